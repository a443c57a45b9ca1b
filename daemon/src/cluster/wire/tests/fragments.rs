//! Large frames: pieces, loss, duplicates, timeouts and the memory bound.

use super::*;

#[test]
fn a_large_frame_is_fragmented_and_reassembled_in_any_order() {
    let s = Settings::default();
    let big = frame(99, 10_000);
    let out = send_all(&[deliver(Target::User(8), big.clone())], &s);
    assert_eq!(out.len(), 10_000usize.div_ceil(s.piece_cap()));
    assert!(out.iter().all(|d| d.bytes.len() <= s.max_datagram));
    let mut rx = receiver(B, &[A], &s);
    let mut done = Vec::new();
    for d in out.iter().rev() {
        done.extend(frames_of(rx.accept(d.bytes.clone(), 0).unwrap().payload));
    }
    assert_eq!(
        done,
        vec![DeliverItem {
            target: Target::User(8),
            frame: big
        }]
    );
    assert_eq!(rx.reassembly().pending_bytes(), 0);
}

#[test]
fn pieces_beyond_max_message_are_too_large() {
    let small = Settings {
        max_message: 2_000,
        ..Default::default()
    };
    let mut rx = receiver(B, &[A], &small);
    // The sender allows bigger messages than the receiver.
    let out = send_all(
        &[deliver(Target::User(1), frame(1, 3_000))],
        &Settings::default(),
    );
    assert!(matches!(
        rx.accept(out[0].bytes.clone(), 0).unwrap().payload,
        Payload::Pending
    ));
    assert_eq!(
        rx.accept(out[1].bytes.clone(), 0).unwrap_err(),
        DropReason::TooLarge
    );
    assert_eq!(rx.reassembly().pending_messages(), 0);
    assert_eq!(rx.reassembly().pending_bytes(), 0);
}

#[test]
fn a_lost_fragment_is_repaired_and_duplicates_change_nothing() {
    let s = Settings::default();
    let big = frame(5, 5_000);
    let out = send_all(&[deliver(Target::Group(4), big.clone())], &s);
    assert!(out.len() >= 4);
    let mut rx = receiver(B, &[A], &s);
    for d in out.iter().filter(|d| d.seq != 2) {
        let acc = rx.accept(d.bytes.clone(), 0).unwrap();
        assert!(matches!(acc.payload, Payload::Pending));
        assert_eq!(
            rx.accept(d.bytes.clone(), 0).unwrap_err(),
            DropReason::Replay
        );
    }
    assert_eq!(rx.reassembly().pending_messages(), 1);
    let acc = rx.accept(out[1].bytes.clone(), 0).unwrap();
    assert_eq!(
        frames_of(acc.payload),
        vec![DeliverItem {
            target: Target::Group(4),
            frame: big
        }]
    );
    assert_eq!(rx.reassembly().pending_messages(), 0);
}

#[test]
fn an_incomplete_frame_times_out() {
    let s = Settings {
        reassembly_timeout_ms: 100,
        ..Default::default()
    };
    let out = send_all(&[deliver(Target::User(1), frame(1, 3_000))], &s);
    let mut rx = receiver(B, &[A], &s);
    rx.accept(out[0].bytes.clone(), 1_000).unwrap();
    assert_eq!(rx.next_deadline(), Some(1_100));
    assert_eq!(rx.expire(1_099), 0);
    assert_eq!(rx.expire(1_100), 1);
    assert_eq!(
        (rx.reassembly().timed_out(), rx.reassembly().pending_bytes()),
        (1, 0)
    );
    assert_eq!(rx.next_deadline(), None);
    // A late piece starts over and never completes the dropped frame alone.
    assert!(matches!(
        rx.accept(out[1].bytes.clone(), 1_200).unwrap().payload,
        Payload::Pending
    ));
}

#[test]
fn reassembly_memory_is_bounded_by_evicting_the_oldest() {
    let s = Settings {
        max_message: 3_000,
        max_pending: 4_000,
        ..Default::default()
    };
    let mut rx = receiver(B, &[A], &s);
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    tx.push(B, deliver(Target::User(1), frame(1, 3_000)), 0, &mut out)
        .unwrap();
    tx.push(B, deliver(Target::User(2), frame(2, 3_000)), 0, &mut out)
        .unwrap();
    let n = 3_000usize.div_ceil(s.piece_cap());
    assert_eq!(out.len(), 2 * n);
    // All but the last piece of the first frame, then the second frame whole.
    for d in &out[..n - 1] {
        rx.accept(d.bytes.clone(), 0).unwrap();
    }
    let mut done = Vec::new();
    for d in &out[n..] {
        done.extend(frames_of(rx.accept(d.bytes.clone(), 1).unwrap().payload));
    }
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].target, Target::User(2));
    assert_eq!(rx.reassembly().evicted(), 1);
    assert!(rx.reassembly().pending_bytes() <= s.max_pending);
    // The first frame's last piece arrives alone: it cannot complete.
    let acc = rx.accept(out[n - 1].bytes.clone(), 2).unwrap();
    assert!(matches!(acc.payload, Payload::Pending));
}
