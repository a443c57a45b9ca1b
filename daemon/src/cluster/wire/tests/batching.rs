//! When batches leave, and frames too large or empty for them.

use super::*;

#[test]
fn fragments_come_after_the_open_batch_and_keep_the_order() {
    let s = Settings::default();
    let small = deliver(Target::User(1), frame(1, 50));
    let big = deliver(Target::User(1), frame(2, 3_000));
    let out = send_all(&[small.clone(), big.clone()], &s);
    let mut rx = receiver(B, &[A], &s);
    let got: Vec<Item> = out
        .into_iter()
        .flat_map(|d| frames_of(rx.accept(d.bytes, 0).unwrap().payload))
        .map(Item::Deliver)
        .collect();
    assert_eq!(got, vec![small, big]);
}

#[test]
fn empty_and_oversized_frames_are_refused() {
    let s = Settings::default();
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    let err = tx.push(B, deliver(Target::Group(3), Bytes::new()), 0, &mut out);
    assert_eq!(err, Err(SendError::EmptyFrame(Target::Group(3))));
    let len = s.max_message + 1;
    let err = tx.push(B, deliver(Target::User(3), frame(1, len)), 0, &mut out);
    assert_eq!(
        err,
        Err(SendError::FrameTooLarge {
            len,
            max: s.max_message
        })
    );
    assert!(out.is_empty());
}

#[test]
fn batch_leaves_at_its_deadline_or_when_full() {
    let s = Settings {
        max_delay_ms: 5,
        ..Default::default()
    };
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    assert_eq!(tx.next_deadline(), None);
    tx.push(B, deliver(Target::User(1), frame(1, 100)), 10, &mut out)
        .unwrap();
    tx.push(B, deliver(Target::User(2), frame(2, 100)), 12, &mut out)
        .unwrap();
    // The deadline follows the oldest item.
    assert_eq!(tx.next_deadline(), Some(15));
    tx.due(14, &mut out);
    assert!(out.is_empty());
    tx.due(15, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(tx.next_deadline(), None);

    // Full: the item that does not fit sends the batch before it.
    out.clear();
    let per = s.body_cap() / DeliverItem::encoded_len(200);
    for i in 0..per {
        tx.push(
            B,
            deliver(Target::User(1), frame(i as u32, 200)),
            20,
            &mut out,
        )
        .unwrap();
    }
    assert!(out.is_empty());
    tx.push(B, deliver(Target::User(1), frame(0, 200)), 20, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].bytes.len() <= s.max_datagram);
    assert_eq!(tx.next_deadline(), Some(25));
}

#[test]
fn an_exactly_full_batch_leaves_at_once() {
    let s = Settings::default();
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    let len = s.max_unfragmented();
    tx.push(B, deliver(Target::User(1), frame(1, len)), 0, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].bytes.len(), s.max_datagram);
    assert_eq!(tx.next_deadline(), None);
}
