//! Every reason a datagram is refused, and that refusal changes nothing.

use super::*;
use crate::cluster::wire::header::{HEADER_LEN, MAC_LEN};
use crate::cluster::wire::seal::datagram_buf;

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
        bad(seal(Kind::Presence, B, 6, &[0; 13])),
        DropReason::Malformed
    );
    let mut presence = [0u8; 12];
    presence[11] = 2;
    assert_eq!(
        bad(seal(Kind::Presence, B, 7, &presence)),
        DropReason::Malformed
    );
    let mut presence = [0u8; 12];
    presence[0] = 2;
    assert_eq!(
        bad(seal(Kind::Presence, B, 70, &presence)),
        DropReason::Malformed,
        "a submit target has no presence"
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
