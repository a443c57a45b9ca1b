//! Single messages across nodes. A user's inbox sequence is kept by the
//! node that owns the user by the configured ring ([`Cluster::home_of`]):
//! a cmd 10 for a user another node owns is forwarded there as a submit
//! (never numbered here), and the owner's ack or error comes back as a
//! reply to the very connection that sent it.
//!
//! While the owner is down the message is refused with 503: numbering it
//! here would fork the user's sequence, since each node keeps its own store
//! (moving a down node's users to the next one needs the shared store).
//!
//! [`Cluster::home_of`]: super::cluster::Cluster::home_of

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::cluster::Owner;
use super::core::Core;
use super::dispatch::{error, refuse};
use super::inbox::CoreMsg;
use super::origin::{tag, untag, Origin};
use crate::cluster::wire::{Item, NodeId, Reply, Submit};
use crate::msg::{self, Cmd, Envelope};
use crate::route::core_of;
use crate::shard::ConnRef;

/// Whether the cmd 10 `env` from connection `from` of user `uid` is for an
/// inbox this node keeps; if not, it has been forwarded to the owner node
/// or refused (503 while the owner is down).
pub fn local_inbox(core: &Core, from: ConnRef, uid: i64, env: &Envelope, payload: &[u8]) -> bool {
    let Some(cluster) = &core.shared.cluster else {
        return true;
    };
    match cluster.home_of(env.dstid) {
        Owner::Local => true,
        Owner::Node(node) if cluster.view().is_up(node) => {
            cluster.stats().forwarded.fetch_add(1, Relaxed);
            let submit = Submit {
                sender: uid,
                conn: tag(from),
                payload: Bytes::copy_from_slice(payload),
            };
            cluster.send(node, Item::Submit(submit));
            false
        }
        Owner::Node(_) | Owner::Nobody => {
            cluster.stats().owner_down.fetch_add(1, Relaxed);
            error(core, from, env.id, 503, "recipient's node unavailable");
            false
        }
    }
}

/// Takes a message `node` forwarded to this node: checked again as a
/// client's message of its sender, then admitted on the recipient's core
/// like a local one, answering to `node`.
pub fn submitted(core: &Core, node: NodeId, s: Submit) {
    let origin = Origin::Peer { node, conn: s.conn };
    let parsed = msg::parse(&s.payload, s.sender, &mut core.scratch.borrow_mut());
    let env = match parsed {
        Ok(env) if env.cmd == Cmd::Single => env,
        Ok(env) => return refuse(core, origin, env.id, 400, "only cmd 10 is forwarded"),
        Err(rej) => return refuse(core, origin, rej.id, rej.code, rej.msg),
    };
    if let Some(cluster) = &core.shared.cluster {
        cluster.stats().submits_in.fetch_add(1, Relaxed);
    }
    core.send(
        core_of(env.dstid, core.shared.cores()),
        CoreMsg::Single {
            from: origin,
            sender: s.sender,
            env,
            payload: s.payload,
        },
    );
}

/// Hands an owner node's ack or error to the connection it names, if that
/// connection is still open.
pub fn replied(core: &Core, r: Reply) {
    let to = untag(r.conn);
    if usize::from(to.core) >= core.shared.cores() {
        tracing::warn!(core = to.core, "a reply for a core this node does not have");
        return;
    }
    core.deliver(to, r.frame);
}
