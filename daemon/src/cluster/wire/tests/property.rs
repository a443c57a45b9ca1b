//! Seeded random runs: many sizes and kinds, and a lossy path repaired.

use super::*;
use crate::cluster::wire::body::Body;
use crate::cluster::wire::seal::open;

/// xorshift64*: a seeded generator, enough for varied sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_sizes_arrive_whole_in_order() {
    for seed in 1..=20u64 {
        let s = Settings {
            max_datagram: 512 + (seed as usize * 97) % 1500,
            ..Default::default()
        };
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut tx = outbox(A, seed, s.clone());
        let mut rx = receiver(B, &[A], &s);
        let mut sent = Vec::new();
        let mut out = Vec::new();
        let mut now = 0;
        for n in 0..300u32 {
            now += rng.below(3);
            let item = match rng.below(10) {
                0 => Item::Presence(Presence {
                    target: Target::User(n.into()),
                    core: 5,
                    online: n % 2 == 0,
                }),
                1 => Item::Membership(Membership {
                    uid: n.into(),
                    gid: 9,
                    joined: true,
                }),
                2 => deliver(
                    Target::Group(n.into()),
                    frame(n, 1 + rng.below(8_000) as usize),
                ),
                _ => deliver(
                    Target::User(n.into()),
                    frame(n, 1 + rng.below(600) as usize),
                ),
            };
            tx.push(B, item.clone(), now, &mut out).unwrap();
            tx.due(now, &mut out);
            sent.push(item);
        }
        tx.flush(B, &mut out);
        let mut got = Vec::new();
        for (i, d) in out.into_iter().enumerate() {
            assert!(d.bytes.len() <= s.max_datagram, "seed {seed}");
            assert_eq!(d.seq, i as u64 + 1);
            let acc = rx.accept(d.bytes, now).unwrap();
            assert_eq!(acc.gap, None);
            match acc.payload {
                Payload::Presence(p) => got.extend(p.into_iter().map(Item::Presence)),
                Payload::Membership(m) => got.extend(m.into_iter().map(Item::Membership)),
                p => got.extend(frames_of(p).into_iter().map(Item::Deliver)),
            }
        }
        assert_same(&got, &sent, seed);
        assert_eq!(rx.reassembly().pending_messages(), 0);
    }
}

#[test]
fn random_loss_duplication_and_reordering_are_repaired_by_nacks() {
    for seed in 1..=10u64 {
        // A history as long as the run, so every loss can be repaired.
        let s = Settings {
            history: 1024,
            ..Default::default()
        };
        let mut rng = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03));
        let mut tx = outbox(A, 30, s.clone());
        let mut nack_tx = outbox(B, 4, s.clone());
        let mut rx = receiver(B, &[A], &s);
        let mut sent = Vec::new();
        let mut wire = Vec::new();
        for n in 0..200u32 {
            let item = deliver(
                Target::User(n.into()),
                frame(n, 1 + rng.below(3_000) as usize),
            );
            tx.push(B, item.clone(), 0, &mut wire).unwrap();
            sent.push(item);
        }
        tx.flush(B, &mut wire);
        let mut got = Vec::new();
        let accept = |rx: &mut Receiver, d: Bytes, got: &mut Vec<Item>| match rx
            .accept(d, 0)
            .map(|acc| acc.payload)
        {
            Ok(Payload::Heartbeat(_)) | Err(DropReason::Replay) => {}
            Ok(p) => got.extend(frames_of(p).into_iter().map(Item::Deliver)),
            Err(e) => panic!("{e}"),
        };
        // 15% lost, 5% twice, neighbours swapped now and then.
        let mut path: Vec<Bytes> = Vec::new();
        for d in &wire {
            match rng.below(20) {
                0..=2 => {}
                3 => path.extend([d.bytes.clone(), d.bytes.clone()]),
                _ => path.push(d.bytes.clone()),
            }
            if path.len() >= 2 && rng.below(8) == 0 {
                let n = path.len();
                path.swap(n - 1, n - 2);
            }
        }
        for d in path {
            accept(&mut rx, d, &mut got);
        }
        // The heartbeat tick's repair loop (the tail is found by a last
        // datagram, as a heartbeat would).
        let mut tail = Vec::new();
        tx.heartbeat(
            B,
            &Heartbeat {
                config_digest: 0,
                alive: vec![],
            },
            &mut tail,
        )
        .unwrap();
        accept(&mut rx, tail[0].bytes.clone(), &mut got);
        for _ in 0..3 {
            let (inc, missing) = rx.missing(A).unwrap();
            let mut nacks = Vec::new();
            nack_tx.nack(A, inc, &missing, &mut nacks);
            for n in nacks {
                let (h, body) = open(&key(), &n.bytes).unwrap();
                let Ok(Body::Nack(nack)) = Body::decode(h.kind, body) else {
                    panic!("not a nack");
                };
                let mut resent = Vec::new();
                assert!(tx.resend(B, &nack, &mut resent).is_empty());
                for d in resent {
                    accept(&mut rx, d.bytes, &mut got);
                }
            }
        }
        assert_eq!(rx.missing(A), Some((30, vec![])), "seed {seed}");
        got.sort_by_key(|i| match i {
            Item::Deliver(d) => d.target.id(),
            _ => unreachable!(),
        });
        assert_same(&got, &sent, seed);
    }
}

/// Compares item lists by a short summary first, so a failure prints ids
/// and sizes rather than kilobytes of frames.
fn assert_same(got: &[Item], want: &[Item], seed: u64) {
    let summary = |items: &[Item]| -> Vec<(String, usize)> {
        items
            .iter()
            .map(|i| match i {
                Item::Deliver(d) => (format!("{:?}", d.target), d.frame.len()),
                other => (format!("{other:?}"), 0),
            })
            .collect()
    };
    assert_eq!(summary(got), summary(want), "seed {seed}");
    assert!(
        got == want,
        "seed {seed}: same targets and sizes, different bytes"
    );
}
