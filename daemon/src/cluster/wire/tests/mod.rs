//! The send and receive sides together: what one node's outbox seals, the
//! other's receiver accepts, refuses or repairs. Shared helpers here; one
//! file per theme.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;

mod batching;
mod drops;
mod forwarding;
mod fragments;
mod property;
mod repair;
mod round_trip;

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
