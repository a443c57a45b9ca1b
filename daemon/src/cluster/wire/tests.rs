//! The send and receive sides together: what one node's outbox seals, the
//! other's receiver accepts, refuses or repairs.

use bytes::{BufMut, Bytes, BytesMut};

use super::body::Body;
use super::header::{HEADER_LEN, MAC_LEN};
use super::seal::{datagram_buf, open};
use super::*;

const A: NodeId = 1;
const B: NodeId = 2;
const SECRET: &[u8] = b"a cluster secret for tests";

fn key() -> Key {
    Key::new(SECRET).unwrap()
}

fn outbox(me: NodeId, incarnation: u64, settings: Settings) -> Outbox {
    Outbox::new(Sealer::new(key(), me, incarnation), settings).unwrap()
}

/// A receiver that started at time 5, before every sender in these tests.
fn receiver(me: NodeId, peers: &[NodeId], settings: &Settings) -> Receiver {
    receiver_since(5, me, peers, settings)
}

fn receiver_since(incarnation: u64, me: NodeId, peers: &[NodeId], settings: &Settings) -> Receiver {
    Receiver::new(key(), me, incarnation, peers.iter().copied(), settings).unwrap()
}

/// A server text frame of `len` payload bytes whose content encodes `tag`.
fn frame(tag: u32, len: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(len);
    b.put_u32(tag);
    b.extend((0..len.saturating_sub(4)).map(|i| (i as u32 ^ tag) as u8));
    b.truncate(len.max(1));
    b.freeze()
}

fn id(t: Target) -> i64 {
    match t {
        Target::User(id) | Target::Group(id) => id,
    }
}

fn deliver(target: Target, frame: Bytes) -> Item {
    Item::Deliver(DeliverItem { target, frame })
}

fn frames_of(p: Payload) -> Vec<DeliverItem> {
    match p {
        Payload::Deliver(items) => items.collect(),
        Payload::Frame(item) => vec![item],
        Payload::Pending => vec![],
        other => panic!("not a delivery: {other:?}"),
    }
}

/// Sends `items` from A to B at time 0, flushing at the end.
fn send_all(items: &[Item], settings: &Settings) -> Vec<Datagram> {
    let mut tx = outbox(A, 7, settings.clone());
    let mut out = Vec::new();
    for item in items {
        tx.push(B, item.clone(), 0, &mut out).unwrap();
    }
    tx.flush(B, &mut out);
    out
}

#[test]
fn deliver_batch_round_trips() {
    let s = Settings::default();
    let items: Vec<Item> = (0..10)
        .map(|i| {
            deliver(
                if i % 2 == 0 {
                    Target::User(i)
                } else {
                    Target::Group(-i)
                },
                frame(i as u32, 100),
            )
        })
        .collect();
    let out = send_all(&items, &s);
    assert_eq!(out.len(), 1, "ten 100-byte frames share one datagram");
    assert_eq!(out[0].bytes.len(), 48 + 10 * 111);
    let mut rx = receiver(B, &[A], &s);
    let acc = rx.accept(out[0].bytes.clone(), 0).unwrap();
    assert_eq!(
        (acc.from, acc.incarnation, acc.seq, acc.gap, acc.restarted),
        (A, 7, 1, None, false)
    );
    let got: Vec<Item> = frames_of(acc.payload)
        .into_iter()
        .map(Item::Deliver)
        .collect();
    assert_eq!(got, items);
}

#[test]
fn presence_and_membership_round_trip_and_split_by_kind() {
    let s = Settings::default();
    let p = Presence {
        uid: -5,
        node: 3,
        online: true,
    };
    let q = Presence {
        uid: i64::MAX,
        node: u32::MAX,
        online: false,
    };
    let m = Membership {
        uid: 1,
        gid: i64::MIN,
        joined: true,
    };
    let out = send_all(
        &[Item::Presence(p), Item::Presence(q), Item::Membership(m)],
        &s,
    );
    assert_eq!(out.len(), 2, "a change of kind closes the batch");
    let mut rx = receiver(B, &[A], &s);
    match rx.accept(out[0].bytes.clone(), 0).unwrap().payload {
        Payload::Presence(got) => assert_eq!(got, vec![p, q]),
        other => panic!("{other:?}"),
    }
    match rx.accept(out[1].bytes.clone(), 0).unwrap().payload {
        Payload::Membership(got) => assert_eq!(got, vec![m]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn heartbeat_and_nack_round_trip() {
    let s = Settings::default();
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    let hb = Heartbeat {
        config_digest: 0xdead_beef_0bad_cafe,
        alive: vec![1, 3, 4],
    };
    tx.heartbeat(B, &hb, &mut out).unwrap();
    let ranges = [
        SeqRange { first: 3, last: 4 },
        SeqRange { first: 9, last: 9 },
    ];
    tx.nack(B, 42, &ranges, &mut out);
    let mut rx = receiver(B, &[A], &s);
    match rx.accept(out[0].bytes.clone(), 0).unwrap().payload {
        Payload::Heartbeat(got) => assert_eq!(got, hb),
        other => panic!("{other:?}"),
    }
    match rx.accept(out[1].bytes.clone(), 0).unwrap().payload {
        Payload::Nack(got) => assert_eq!(
            got,
            Nack {
                incarnation: 42,
                ranges: ranges.to_vec()
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_heartbeat_too_large_for_one_datagram_is_refused() {
    let mut tx = outbox(
        A,
        7,
        Settings {
            max_datagram: 512,
            ..Default::default()
        },
    );
    let hb = Heartbeat {
        config_digest: 1,
        alive: (0..200).collect(),
    };
    let err = tx.heartbeat(B, &hb, &mut Vec::new()).unwrap_err();
    assert_eq!(err, SendError::HeartbeatTooLarge { len: 808, cap: 464 });
}

#[test]
fn many_nack_ranges_take_several_datagrams() {
    let s = Settings {
        max_datagram: 512,
        ..Default::default()
    };
    let mut tx = outbox(A, 7, s.clone());
    let ranges: Vec<_> = (0..100)
        .map(|i| SeqRange {
            first: 2 * i + 1,
            last: 2 * i + 1,
        })
        .collect();
    let mut out = Vec::new();
    tx.nack(B, 9, &ranges, &mut out);
    assert!(out.len() > 1);
    let mut rx = receiver(B, &[A], &s);
    let mut got = Vec::new();
    for d in out {
        assert!(d.bytes.len() <= 512);
        match rx.accept(d.bytes, 0).unwrap().payload {
            Payload::Nack(n) => got.extend(n.ranges),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, ranges);
}

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

#[test]
fn every_drop_reason() {
    let s = Settings::default();
    let one = send_all(&[deliver(Target::User(1), frame(1, 10))], &s)
        .remove(0)
        .bytes;
    let mut rx = receiver(B, &[A], &s);
    let mut bad = |bytes: Vec<u8>| rx.accept(Bytes::from(bytes), 0).unwrap_err();

    assert_eq!(bad(one[..20].to_vec()), DropReason::Size);
    let mut t = one.to_vec();
    t[0] = b'X';
    assert_eq!(bad(t), DropReason::Magic);
    let mut t = one.to_vec();
    t[4] = 2;
    assert_eq!(bad(t), DropReason::Version);
    let mut t = one.to_vec();
    t[HEADER_LEN] ^= 1;
    assert_eq!(bad(t), DropReason::Mac);

    // Sealed for node 3, sent to B.
    // An earlier life of A, so the good datagram below is still fresh.
    let sealer = Sealer::new(key(), A, 6);
    let seal = |kind: Kind, dest: NodeId, seq: u64, body: &[u8]| {
        let mut buf = datagram_buf(body.len());
        buf.extend_from_slice(body);
        sealer.seal(kind, dest, seq, buf).to_vec()
    };
    let hb = [0u8; 8];
    assert_eq!(
        bad(seal(Kind::Heartbeat, 3, 1, &hb)),
        DropReason::Misdirected
    );
    let stranger = Sealer::new(key(), 9, 7);
    let mut buf = datagram_buf(8);
    buf.extend_from_slice(&hb);
    assert_eq!(
        bad(stranger.seal(Kind::Heartbeat, B, 1, buf).to_vec()),
        DropReason::UnknownPeer
    );
    // Authentic, but an unknown kind or a bad body.
    assert_eq!(bad(seal(Kind::Heartbeat, B, 0, &hb)), DropReason::Malformed);
    let mut unknown_kind = seal(Kind::Heartbeat, B, 1, &hb);
    unknown_kind[5] = 99;
    let tag = key().tag(&unknown_kind[..unknown_kind.len() - MAC_LEN]);
    let n = unknown_kind.len();
    unknown_kind[n - MAC_LEN..].copy_from_slice(&tag);
    assert_eq!(bad(unknown_kind), DropReason::Malformed);
    assert_eq!(
        bad(seal(Kind::Heartbeat, B, 2, &[0; 9])),
        DropReason::Malformed
    );
    assert_eq!(
        bad(seal(
            Kind::Deliver,
            B,
            3,
            &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
        )),
        DropReason::Malformed
    );
    assert_eq!(
        bad(seal(
            Kind::Deliver,
            B,
            4,
            &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 7]
        )),
        DropReason::Malformed
    );
    assert_eq!(
        bad(seal(
            Kind::Deliver,
            B,
            5,
            &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 7]
        )),
        DropReason::Malformed
    );
    assert_eq!(
        bad(seal(Kind::Presence, B, 6, &[0; 12])),
        DropReason::Malformed
    );
    let mut presence = [0u8; 13];
    presence[12] = 2;
    assert_eq!(
        bad(seal(Kind::Presence, B, 7, &presence)),
        DropReason::Malformed
    );
    assert_eq!(bad(seal(Kind::Nack, B, 8, &[0; 8])), DropReason::Malformed);
    let mut backwards = vec![0u8; 8];
    backwards.extend(5u64.to_be_bytes());
    backwards.extend(4u64.to_be_bytes());
    assert_eq!(
        bad(seal(Kind::Nack, B, 9, &backwards)),
        DropReason::Malformed
    );
    let mut frag = vec![0u8; 8];
    frag.extend([0, 2, 0, 2]); // index 2 of 2
    frag.extend([0; 9]);
    frag.push(1);
    assert_eq!(
        bad(seal(Kind::Fragment, B, 10, &frag)),
        DropReason::Malformed
    );

    // The good datagram once, then again.
    rx.accept(one.clone(), 0).unwrap();
    assert_eq!(rx.accept(one, 0).unwrap_err(), DropReason::Replay);
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
fn a_tampered_byte_anywhere_is_refused_and_changes_nothing() {
    let s = Settings::default();
    let d = send_all(&[deliver(Target::User(1), frame(1, 30))], &s)
        .remove(0)
        .bytes;
    let mut rx = receiver(B, &[A], &s);
    for i in 0..d.len() {
        let mut t = d.to_vec();
        t[i] ^= 0x80;
        assert!(rx.accept(Bytes::from(t), 0).is_err(), "byte {i}");
    }
    let acc = rx.accept(d, 0).unwrap();
    assert_eq!((acc.seq, acc.gap), (1, None));
}

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
    delivered.sort_by_key(|d| id(d.target));
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
                    uid: n.into(),
                    node: 5,
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
            Item::Deliver(d) => id(d.target),
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
