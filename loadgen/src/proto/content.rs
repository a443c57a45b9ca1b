//! The stamp in every message's `content`: which run, who sent it, to which
//! user or group, its sequence on that sender->destination stream and its
//! send time, as `<run>.<sender>.<u|g><dst>.<seq>.<sent_us>:` padded with
//! `x`. The run id keeps messages of earlier runs against the same server
//! (stored, then pushed or replayed) out of this run's accounting. Decimal text
//! keeps the JSON valid for every server (imedge and the peers forward the
//! content untouched) and parses in a few nanoseconds.

use serde::{Deserialize, Serialize};

/// Where a message goes: a user (cmd 10) or a group (cmd 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dst {
    /// A single message to this user id.
    User(i64),
    /// A room message to this group id.
    Group(i64),
}

/// The identity of one message: enough to account for every delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The run that sent it.
    pub run: u32,
    /// The sending user.
    pub sender: i64,
    /// The destination.
    pub dst: Dst,
    /// Sequence on the (sender, dst) stream, from 1.
    pub seq: u32,
    /// Send time, microseconds since the Unix epoch.
    pub sent_us: u64,
}

/// The padding byte: plain ASCII that needs no JSON escaping.
pub const PAD: u8 = b'x';

/// Appends the stamp of `s` to `out`, then padding until `out` has grown by
/// at least `min_len` bytes. No allocation beyond `out`'s growth.
pub fn write(s: &Stamp, min_len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(s.run).as_bytes());
    out.push(b'.');
    out.extend_from_slice(b.format(s.sender).as_bytes());
    out.push(b'.');
    let (tag, id) = match s.dst {
        Dst::User(u) => (b'u', u),
        Dst::Group(g) => (b'g', g),
    };
    out.push(tag);
    out.extend_from_slice(b.format(id).as_bytes());
    out.push(b'.');
    out.extend_from_slice(b.format(s.seq).as_bytes());
    out.push(b'.');
    out.extend_from_slice(b.format(s.sent_us).as_bytes());
    out.push(b':');
    let written = out.len() - start;
    if written < min_len {
        out.resize(start + min_len, PAD);
    }
}

/// Reads a stamp from the front of a content string; `None` when the
/// content was not written by [`write`] (another client's message).
pub fn parse(content: &[u8]) -> Option<Stamp> {
    let mut p = Cursor(content);
    let run = u32::try_from(p.int()?).ok()?;
    p.eat(b'.')?;
    let sender = p.int()?;
    p.eat(b'.')?;
    let tag = p.byte()?;
    let id = p.int()?;
    let dst = match tag {
        b'u' => Dst::User(id),
        b'g' => Dst::Group(id),
        _ => return None,
    };
    p.eat(b'.')?;
    let seq = u32::try_from(p.int()?).ok()?;
    p.eat(b'.')?;
    let sent_us = u64::try_from(p.int()?).ok()?;
    p.eat(b':')?;
    Some(Stamp {
        run,
        sender,
        dst,
        seq,
        sent_us,
    })
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.byte()? == want).then_some(())
    }

    /// A non-negative decimal of at most 19 digits (fits i64).
    fn int(&mut self) -> Option<i64> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 19 {
            return None;
        }
        let mut v: i64 = 0;
        for &d in &self.0[..digits] {
            v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
        }
        self.0 = &self.0[digits..];
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_pad() {
        let s = Stamp {
            run: 4,
            sender: 17,
            dst: Dst::Group(9),
            seq: 3,
            sent_us: 1_732_290_000_123_456,
        };
        let mut out = b"prefix".to_vec();
        write(&s, 64, &mut out);
        assert_eq!(out.len(), 6 + 64);
        assert!(out.starts_with(b"prefix4.17.g9.3.1732290000123456:xx"));
        assert_eq!(parse(&out[6..]), Some(s));
        let mut short = Vec::new();
        write(&s, 0, &mut short);
        assert_eq!(short, b"4.17.g9.3.1732290000123456:");
    }

    #[test]
    fn foreign_content_is_not_a_stamp() {
        for bad in [
            &b""[..],
            b"hello",
            b"1.17.x9.3.5:",
            b"1.17.u9.3.5",
            b"1.17.u9.99999999999.5:",
            b"1.-1.u9.3.5:",
            b"17.u9.3.5:",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
