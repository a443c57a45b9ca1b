//! What the daemon queues for a peer: the batchable records.

use bytes::BufMut;

use super::deliver::DeliverItem;
use super::forward::{Reply, Submit};
use super::header::Kind;
use super::records::{Membership, Presence};

/// One record for a peer; items of one kind share datagrams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A frame for a user or group (fragmented if it exceeds one datagram).
    Deliver(DeliverItem),
    /// A user online or offline on a node.
    Presence(Presence),
    /// A user joining or leaving a group.
    Membership(Membership),
    /// A client's message for a user the peer owns.
    Submit(Submit),
    /// An ack or error for a connection of the peer.
    Reply(Reply),
}

impl Item {
    /// The kind of datagram that carries it.
    pub fn kind(&self) -> Kind {
        match self {
            Item::Deliver(_) => Kind::Deliver,
            Item::Presence(_) => Kind::Presence,
            Item::Membership(_) => Kind::Membership,
            Item::Submit(_) => Kind::Submit,
            Item::Reply(_) => Kind::Reply,
        }
    }

    /// Encoded size in a batch.
    pub fn encoded_len(&self) -> usize {
        match self {
            Item::Deliver(d) => DeliverItem::encoded_len(d.frame.len()),
            Item::Presence(_) => Presence::LEN,
            Item::Membership(_) => Membership::LEN,
            Item::Submit(s) => Submit::encoded_len(s.payload.len()),
            Item::Reply(r) => Reply::encoded_len(r.frame.len()),
        }
    }

    pub(super) fn put(&self, out: &mut impl BufMut) {
        match self {
            Item::Deliver(d) => d.put(out),
            Item::Presence(p) => p.put(out),
            Item::Membership(m) => m.put(out),
            Item::Submit(s) => s.put(out),
            Item::Reply(r) => r.put(out),
        }
    }
}
