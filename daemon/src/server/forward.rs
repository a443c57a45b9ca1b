//! Messages across nodes. A user's inbox and a group's log are numbered by
//! one node, their keeper ([`Cluster::keeper_of`]): a cmd 10 or cmd 11 whose
//! log another node keeps is forwarded there as a submit (never numbered
//! here), and the keeper's ack or error comes back as a reply to the very
//! connection that sent it ([`super::awaiting`] answers it with an error
//! if nothing comes back).
//!
//! While the keeper is down the message is refused with 503: with a store of
//! its own per node, numbering it here would fork the sequence; with a
//! shared store the keeper is the live owner, so this happens only in the
//! moments before a failure is detected.
//!
//! [`Cluster::keeper_of`]: super::cluster::Cluster::keeper_of

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::awaiting::RoomCopy;
use super::cluster::Owner;
use super::core::Core;
use super::dispatch::{error, refuse};
use super::inbox::CoreMsg;
use super::origin::{tag, untag, Origin};
use crate::cluster::wire::{Item, NodeId, Reply, Submit};
use crate::msg::{self, Cmd, Envelope};
use crate::route::core_of;
use crate::shard::ConnRef;

/// Whether the cmd 10 or cmd 11 `env` from connection `from` of user `uid`
/// is for a log this node keeps; if not, it has been forwarded to the
/// keeper or refused (503 while the keeper is down).
pub fn local_log(core: &Core, from: ConnRef, uid: i64, env: &Envelope, payload: &[u8]) -> bool {
    let Some(cluster) = &core.shared.cluster else {
        return true;
    };
    match cluster.keeper_of(env.dstid) {
        Owner::Local => true,
        Owner::Node(node) if cluster.reachable(node) => {
            cluster.stats().forwarded.fetch_add(1, Relaxed);
            let payload = Bytes::copy_from_slice(payload);
            let room = (env.cmd == Cmd::Room).then(|| RoomCopy {
                gid: env.dstid,
                sender: uid,
                env: env.clone(),
                payload: payload.clone(),
            });
            let number = core
                .awaiting
                .borrow_mut()
                .add(from, env.id, core.now_ms(), room);
            let submit = Submit {
                sender: uid,
                conn: tag(from, number),
                payload,
            };
            cluster.send(node, Item::Submit(submit));
            false
        }
        Owner::Node(_) | Owner::Nobody => {
            cluster.stats().owner_down.fetch_add(1, Relaxed);
            error(
                core,
                from,
                env.id,
                503,
                "the node keeping this conversation is down",
            );
            false
        }
    }
}

/// Takes a message `node` forwarded to this node: checked again as a
/// client's message of its sender, then admitted on its log's core like a
/// local one, answering to `node`.
pub fn submitted(core: &Core, node: NodeId, s: Submit) {
    let origin = Origin::Peer { node, conn: s.conn };
    let parsed = msg::parse(&s.payload, s.sender, &mut core.scratch.borrow_mut());
    let env = match parsed {
        Ok(env) if matches!(env.cmd, Cmd::Single | Cmd::Room) => env,
        Ok(env) => {
            return refuse(
                core,
                origin,
                env.id,
                400,
                "only cmd 10 and 11 are forwarded",
            )
        }
        Err(rej) => return refuse(core, origin, rej.id, rej.code, rej.msg),
    };
    if let Some(cluster) = &core.shared.cluster {
        cluster.stats().submits_in.fetch_add(1, Relaxed);
    }
    let to = core_of(env.dstid, core.shared.cores());
    let (sender, payload) = (s.sender, s.payload);
    let msg = match env.cmd {
        Cmd::Room => CoreMsg::Room {
            from: origin,
            sender,
            env,
            payload,
        },
        _ => CoreMsg::Single {
            from: origin,
            sender,
            env,
            payload,
        },
    };
    core.send(to, msg);
}

/// Hands a keeper's ack or error to the core of the connection it names.
pub fn replied(core: &Core, r: Reply) {
    let (to, number) = untag(r.conn);
    if usize::from(to.core) >= core.shared.cores() {
        tracing::warn!(core = to.core, "a reply for a core this node does not have");
        return;
    }
    if usize::from(to.core) == core.id {
        answer(core, to, number, r.frame);
    } else {
        let msg = CoreMsg::Replied {
            to,
            number,
            frame: r.frame,
        };
        core.send(usize::from(to.core), msg);
    }
}

/// On the connection's core: a keeper's answer to a forwarded message. An
/// ack of a room message first shows the room frame to this node's members
/// (stamped here, byte for byte the keeper's), then the answer goes to the
/// sender.
pub fn answer(core: &Core, to: ConnRef, number: u32, frame: Bytes) {
    let Some(reply) = msg::read_reply(&frame) else {
        tracing::warn!("a reply that is not an ack or an error; dropped");
        return;
    };
    let waiting = core.awaiting.borrow_mut().answered(to, number, reply);
    if let (Some(Some(room)), Some((seq, ts))) = (waiting, reply.acked) {
        let stamped = msg::stamped_frame(&room.payload, &room.env, room.sender, seq, ts);
        core.fanout_all(room.gid, &stamped, to, Some(seq));
    }
    // Asked for by this node, not by a client that gave no id.
    if reply.id != 0 || reply.acked.is_none() {
        core.push(to, frame);
    }
}

/// Answers with 503 the forwarded messages whose keeper has not answered in
/// time.
pub fn expire(core: &Core, now_ms: u64) {
    if core.awaiting.borrow().is_empty() {
        return;
    }
    let overdue = core.awaiting.borrow_mut().overdue(now_ms);
    for (conn, id) in overdue {
        if let Some(cluster) = &core.shared.cluster {
            cluster.stats().unanswered.fetch_add(1, Relaxed);
        }
        error(
            core,
            conn,
            id,
            503,
            "no answer from the node keeping this conversation; the message may not be stored",
        );
    }
}
