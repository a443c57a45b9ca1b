//! Feeds arbitrary bytes to the WebSocket decoder, in both roles and under
//! several size limits, and checks that it never panics, that every step
//! stays inside the buffer, and that bytes trickled in as `NeedMore` asks
//! decode exactly as the same bytes given at once.

#![no_main]

use imedge::ws::decode::{Decoder, Payload, Role, Step, Violation};
use libfuzzer_sys::fuzz_target;

/// A step and the bytes it refers to (payload, ping payload or close reason).
type Outcome = Result<(Step, Vec<u8>), Violation>;

fuzz_target!(|data: &[u8]| {
    let Some((&config, input)) = data.split_first() else {
        return;
    };
    let role = if config & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let max = [0, 16, 125, 1 << 10, 1 << 16][usize::from(config >> 1) % 5];
    let whole = at_once(Decoder::new(role, max), input);
    let trickled = trickled(Decoder::new(role, max), input);
    assert_eq!(whole, trickled);
});

/// Decodes `input` from one buffer, frame after frame.
fn at_once(mut decoder: Decoder, input: &[u8]) -> Vec<Outcome> {
    let mut bytes = input.to_vec();
    let mut at = 0;
    let mut out = Vec::new();
    loop {
        let outcome = observe(&mut decoder, &mut bytes[at..]);
        let consumed = match &outcome {
            Ok((step, _)) => step.consumed(),
            Err(_) => 0,
        };
        out.push(outcome);
        if consumed == 0 {
            return out;
        }
        at += consumed;
    }
}

/// Decodes `input` arriving in pieces of exactly the size `NeedMore` asks.
fn trickled(mut decoder: Decoder, mut rest: &[u8]) -> Vec<Outcome> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        let outcome = observe(&mut decoder, &mut buf);
        match &outcome {
            Ok((Step::NeedMore(n), _)) if !rest.is_empty() => {
                let take = (*n).min(rest.len());
                buf.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                continue;
            }
            Ok((step, _)) if step.consumed() > 0 => {
                buf.drain(..step.consumed());
            }
            _ => {
                out.push(outcome);
                return out;
            }
        }
        out.push(outcome);
    }
}

/// One decode, checked against the invariants every step must hold.
fn observe(decoder: &mut Decoder, buf: &mut [u8]) -> Outcome {
    let len = buf.len();
    let step = decoder.decode(buf)?;
    let within = |r: &std::ops::Range<usize>, consumed: usize| {
        assert!(
            r.start <= r.end && r.end <= consumed && consumed <= len,
            "{r:?} {consumed} {len}"
        );
        buf[r.clone()].to_vec()
    };
    let bytes = match &step {
        Step::NeedMore(n) => {
            assert!(*n > 0);
            Vec::new()
        }
        Step::Fragment { consumed } | Step::Pong { consumed } => within(&(0..0), *consumed),
        Step::Message {
            consumed,
            payload: Payload::InBuf(r),
            ..
        } => within(r, *consumed),
        Step::Message {
            consumed,
            payload: Payload::Assembled,
            ..
        } => {
            within(&(0..0), *consumed);
            decoder.assembled().to_vec()
        }
        Step::Ping { consumed, payload } => within(payload, *consumed),
        Step::Close {
            consumed, reason, ..
        } => within(reason, *consumed),
    };
    assert!(step.consumed() == 0 || step.consumed() >= 2);
    Ok((step, bytes))
}
