//! Sequence windows, restarts, and gaps repaired by NACK and resend.

use super::*;

#[test]
fn out_of_order_within_the_window_is_accepted_once() {
    let s = Settings::default();
    let items: Vec<_> = (0..20)
        .map(|i| deliver(Target::User(i), frame(i as u32, 1_000)))
        .collect();
    let out = send_all(&items, &s);
    assert_eq!(out.len(), 20);
    let mut rx = receiver(B, &[A], &s);
    rx.accept(out[0].bytes.clone(), 0).unwrap();
    let late = rx.accept(out[19].bytes.clone(), 0).unwrap();
    assert_eq!(late.gap, Some(SeqRange { first: 2, last: 19 }));
    for d in out[1..19].iter().rev() {
        let acc = rx.accept(d.bytes.clone(), 0).unwrap();
        assert_eq!(acc.gap, None);
        assert_eq!(
            rx.accept(d.bytes.clone(), 0).unwrap_err(),
            DropReason::Replay
        );
    }
    assert_eq!(rx.missing(A), Some((7, vec![])));
}

#[test]
fn a_restart_starts_a_fresh_window_and_the_old_life_is_replay() {
    let s = Settings::default();
    // B started at 150, while A's life 100 was under way.
    let mut rx = receiver_since(150, B, &[A], &s);
    let mut old = outbox(A, 100, s.clone());
    let mut out = Vec::new();
    for _ in 0..3 {
        old.heartbeat(
            B,
            &Heartbeat {
                config_digest: 1,
                alive: vec![],
            },
            &mut out,
        )
        .unwrap();
    }
    // First heard mid-life: nothing before it is asked for.
    let first = rx.accept(out[2].bytes.clone(), 0).unwrap();
    assert_eq!((first.seq, first.gap, first.restarted), (3, None, false));
    assert_eq!(rx.missing(A), Some((100, vec![])));

    let mut new = outbox(A, 200, s.clone());
    let mut out2 = Vec::new();
    new.heartbeat(
        B,
        &Heartbeat {
            config_digest: 1,
            alive: vec![],
        },
        &mut out2,
    )
    .unwrap();
    new.heartbeat(
        B,
        &Heartbeat {
            config_digest: 1,
            alive: vec![],
        },
        &mut out2,
    )
    .unwrap();
    // The restarted peer's second datagram shows its first missing.
    let acc = rx.accept(out2[1].bytes.clone(), 0).unwrap();
    assert_eq!((acc.seq, acc.restarted, acc.incarnation), (2, true, 200));
    assert_eq!(acc.gap, Some(SeqRange { first: 1, last: 1 }));
    assert_eq!(
        rx.accept(out[1].bytes.clone(), 0).unwrap_err(),
        DropReason::Replay
    );
    assert_eq!(rx.accept(out2[0].bytes.clone(), 0).unwrap().gap, None);
}

#[test]
fn a_peer_born_while_up_is_expected_from_1() {
    let s = Settings::default();
    let mut out = Vec::new();
    let mut tx = outbox(A, 7, s.clone());
    for _ in 0..3 {
        tx.heartbeat(
            B,
            &Heartbeat {
                config_digest: 1,
                alive: vec![],
            },
            &mut out,
        )
        .unwrap();
    }
    let acc = receiver_since(5, B, &[A], &s)
        .accept(out[2].bytes.clone(), 0)
        .unwrap();
    assert_eq!(acc.gap, Some(SeqRange { first: 1, last: 2 }));
    // The same datagram to a node that started after A: nothing before it.
    let acc = receiver_since(9, B, &[A], &s)
        .accept(out[2].bytes.clone(), 0)
        .unwrap();
    assert_eq!(acc.gap, None);
}

#[test]
fn gap_nack_resend_closes_the_gap() {
    let s = Settings::default();
    let mut a_tx = outbox(A, 7, s.clone());
    let mut b_tx = outbox(B, 8, s.clone());
    let mut a_rx = receiver(A, &[B], &s);
    let mut b_rx = receiver(B, &[A], &s);
    let items: Vec<_> = (0..6)
        .map(|i| deliver(Target::User(i), frame(i as u32, 1_000)))
        .collect();
    let mut sent = Vec::new();
    for item in &items {
        a_tx.push(B, item.clone(), 0, &mut sent).unwrap();
    }
    a_tx.flush(B, &mut sent);
    assert_eq!(sent.len(), 6);

    // Datagrams 2 and 3 are lost.
    let mut delivered = Vec::new();
    let mut nacks = Vec::new();
    for d in [&sent[0], &sent[3], &sent[4], &sent[5]] {
        let acc = b_rx.accept(d.bytes.clone(), 0).unwrap();
        if let Some(gap) = acc.gap {
            b_tx.nack(A, acc.incarnation, &[gap], &mut nacks);
        }
        delivered.extend(frames_of(acc.payload));
    }
    assert_eq!(
        b_rx.missing(A),
        Some((7, vec![SeqRange { first: 2, last: 3 }]))
    );
    assert_eq!(nacks.len(), 1);

    // A receives the NACK and resends the very same bytes.
    let Payload::Nack(nack) = a_rx.accept(nacks[0].bytes.clone(), 1).unwrap().payload else {
        panic!("not a nack");
    };
    let mut resent = Vec::new();
    let un = a_tx.resend(B, &nack, &mut resent);
    assert!(un.is_empty());
    assert_eq!(resent, sent[1..3].to_vec());
    for d in resent {
        let acc = b_rx.accept(d.bytes, 1).unwrap();
        assert_eq!(acc.gap, None);
        delivered.extend(frames_of(acc.payload));
    }
    assert_eq!(b_rx.missing(A), Some((7, vec![])));
    delivered.sort_by_key(|d| d.target.id());
    let want: Vec<_> = items
        .into_iter()
        .map(|i| match i {
            Item::Deliver(d) => d,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(delivered, want);
}

#[test]
fn nacks_past_the_history_or_for_another_life_are_reported() {
    let s = Settings {
        history: 4,
        ..Default::default()
    };
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    for _ in 0..10 {
        tx.heartbeat(
            B,
            &Heartbeat {
                config_digest: 1,
                alive: vec![],
            },
            &mut out,
        )
        .unwrap();
    }
    let mut resent = Vec::new();
    let nack = Nack {
        incarnation: 7,
        ranges: vec![SeqRange { first: 2, last: 8 }],
    };
    let un = tx.resend(B, &nack, &mut resent);
    assert_eq!(resent, out[6..8].to_vec());
    assert_eq!(un.expired, vec![SeqRange { first: 2, last: 6 }]);
    let old_life = Nack {
        incarnation: 6,
        ..nack.clone()
    };
    let un = tx.resend(B, &old_life, &mut Vec::new());
    assert_eq!(un.expired, nack.ranges);
    let un = tx.resend(3, &nack, &mut Vec::new());
    assert_eq!(un.unsent, nack.ranges);
}
