//! Where a message came from, and so where its ack or error goes: a
//! connection of this node, or a connection of the peer that forwarded it.

use crate::cluster::wire::{ConnTag, NodeId};
use crate::shard::ConnRef;

/// A connection reference no connection has: a fanout that excludes nobody.
pub const NOBODY: ConnRef = ConnRef {
    core: u16::MAX,
    key: u32::MAX,
    id: u32::MAX,
};

/// The sender of a message, for its cmd 20 ack or cmd 21 error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A connection of this node.
    Local(ConnRef),
    /// A connection of node `node`, which forwarded the message here.
    Peer {
        /// The forwarding node.
        node: NodeId,
        /// Its connection, as it named it.
        conn: ConnTag,
    },
}

impl Origin {
    /// The local connection, or [`NOBODY`] for a forwarded message.
    pub fn local_or_nobody(&self) -> ConnRef {
        match *self {
            Origin::Local(c) => c,
            Origin::Peer { .. } => NOBODY,
        }
    }

    /// The peer that forwarded the message, if one did.
    pub fn node(&self) -> Option<NodeId> {
        match *self {
            Origin::Local(_) => None,
            Origin::Peer { node, .. } => Some(node),
        }
    }
}

impl From<ConnRef> for Origin {
    fn from(c: ConnRef) -> Origin {
        Origin::Local(c)
    }
}

/// A local connection's name in its forwarded message number `message`.
pub fn tag(c: ConnRef, message: u32) -> ConnTag {
    ConnTag {
        core: c.core,
        key: c.key,
        id: c.id,
        message,
    }
}

/// The local connection a reply names, and the message number it answers.
pub fn untag(t: ConnTag) -> (ConnRef, u32) {
    let c = ConnRef {
        core: t.core,
        key: t.key,
        id: t.id,
    };
    (c, t.message)
}
