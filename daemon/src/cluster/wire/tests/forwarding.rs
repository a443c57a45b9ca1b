//! Forwarded messages and replies through a real outbox and receiver:
//! batched, a large submit fragmented and put back whole, and the submit
//! target refused wherever only fragments may carry it.

use super::*;
use crate::cluster::wire::seal::datagram_buf;

const CONN: ConnTag = ConnTag {
    core: 1,
    key: 2,
    id: 3,
    message: 4,
};

fn submit(sender: i64, payload: Bytes) -> Submit {
    Submit {
        sender,
        conn: CONN,
        payload,
    }
}

/// Everything B accepts of `out`, in order.
fn accept_all(out: &[Datagram], s: &Settings) -> Vec<Payload> {
    let mut rx = receiver(B, &[A], s);
    out.iter()
        .map(|d| rx.accept(d.bytes.clone(), 0).unwrap().payload)
        .collect()
}

#[test]
fn small_submits_share_a_datagram_and_replies_follow_in_their_own() {
    let s = Settings::default();
    let (one, two) = (submit(5, frame(1, 40)), submit(6, frame(2, 60)));
    let reply = Reply {
        conn: CONN,
        frame: frame(3, 30),
    };
    let items = [
        Item::Submit(one.clone()),
        Item::Submit(two.clone()),
        Item::Reply(reply.clone()),
    ];
    let out = send_all(&items, &s);
    assert_eq!(out.len(), 2, "one datagram per kind");
    let got = accept_all(&out, &s);
    assert!(matches!(&got[0], Payload::Submit(v) if *v == vec![one, two]));
    assert!(matches!(&got[1], Payload::Reply(v) if *v == vec![reply]));
}

#[test]
fn a_large_submit_is_fragmented_and_arrives_whole() {
    let s = Settings::default();
    let big = submit(9, frame(7, 6_000));
    let out = send_all(&[Item::Submit(big.clone())], &s);
    assert!(out.len() > 4);
    assert!(out.iter().all(|d| d.bytes.len() <= s.max_datagram));
    let got = accept_all(&out, &s);
    let whole: Vec<&Payload> = got
        .iter()
        .filter(|p| !matches!(p, Payload::Pending))
        .collect();
    assert!(
        matches!(whole[..], [Payload::Submit(v)] if *v == vec![big]),
        "{whole:?}"
    );
}

#[test]
fn the_submit_target_is_refused_outside_fragments_and_empty_items_are_refused() {
    let s = Settings::default();
    let mut tx = outbox(A, 7, s.clone());
    let mut out = Vec::new();
    let stray = deliver(Target::Submit(1), frame(1, 10));
    assert_eq!(tx.push(B, stray, 0, &mut out), Err(SendError::SubmitTarget));
    let empty = Item::Submit(submit(1, Bytes::new()));
    assert!(matches!(
        tx.push(B, empty, 0, &mut out),
        Err(SendError::Unforwardable { .. })
    ));
    assert!(out.is_empty());

    // Hand-sealed: a deliver body aiming at a submit, and a submit fragment
    // too short to hold its connection tag.
    let sealer = Sealer::new(key(), A, 7);
    let seal = |kind: Kind, seq: u64, body: &[u8]| {
        let mut buf = datagram_buf(body.len());
        buf.extend_from_slice(body);
        sealer.seal(kind, B, seq, buf)
    };
    let mut rx = receiver(B, &[A], &s);
    let mut body = vec![2u8];
    body.extend_from_slice(&1i64.to_be_bytes());
    body.extend_from_slice(&[0, 1, b'x']);
    let refused = rx.accept(seal(Kind::Deliver, 1, &body), 0).unwrap_err();
    assert_eq!(refused, DropReason::Malformed);
    let mut piece = Vec::new();
    piece.extend_from_slice(&1u64.to_be_bytes());
    piece.extend_from_slice(&[0, 0, 0, 1]);
    piece.extend_from_slice(&body[..9]);
    piece.extend_from_slice(&[0; ConnTag::LEN]);
    let refused = rx.accept(seal(Kind::Fragment, 2, &piece), 0).unwrap_err();
    assert_eq!(refused, DropReason::Malformed, "a tag and no payload");
}
