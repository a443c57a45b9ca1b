//! Each kind of datagram, sealed by one node and opened by the other.

use super::*;

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
        target: Target::User(-5),
        core: 3,
        online: true,
    };
    let q = Presence {
        target: Target::Group(i64::MAX),
        core: u16::MAX,
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
