//! Messages between cores, and the task that drains a core's inbox.

use std::os::fd::RawFd;
use std::rc::Rc;

use bytes::Bytes;

use super::core::Core;
use super::gate::{self, Payload};
use super::origin::Origin;
use super::{conn, forward, presence, sys};
use crate::msg::Envelope;
use crate::route::core_of;
use crate::shard::ConnRef;
use crate::store::LogKey;

/// Most messages handled per wake before the core's other tasks get a turn.
const BATCH: usize = 256;

/// Work one core hands another.
pub enum CoreMsg {
    /// A handshaken socket whose user this core owns, with bytes already read past the request.
    Handoff {
        /// The socket, now owned by the receiver.
        fd: RawFd,
        /// The authenticated user.
        uid: i64,
        /// The 101 answer, written once the connection is registered.
        hello: Bytes,
        /// Bytes read after the request head.
        pending: Vec<u8>,
    },
    /// A single message for a user this core owns.
    Single {
        /// The sending connection (for the ack or error), here or on the
        /// peer that forwarded it.
        from: Origin,
        /// The authenticated sender.
        sender: i64,
        /// The parsed envelope.
        env: Envelope,
        /// The client's JSON object.
        payload: Bytes,
    },
    /// A room message for a group whose sequence this core keeps.
    Room {
        /// The sending connection (for the ack or error), here or on the
        /// peer that forwarded it.
        from: Origin,
        /// The authenticated sender.
        sender: i64,
        /// The parsed envelope.
        env: Envelope,
        /// The client's JSON object.
        payload: Bytes,
    },
    /// A stamped room frame for this core's local members of `gid`.
    Fanout {
        /// The group.
        gid: i64,
        /// The frame, shared by every recipient.
        frame: Bytes,
        /// The sending connection, which does not get its own message.
        except: ConnRef,
        /// Its seq in the group's log (None for a frame relayed from
        /// another node, whose logs this node does not track).
        seq: Option<u64>,
    },
    /// A frame for one connection on this core (an ack or an error).
    Deliver {
        /// The connection.
        to: ConnRef,
        /// The frame.
        frame: Bytes,
    },
    /// A frame from another node for every connection of `uid` on this core
    /// (a visitor's message, relayed by the user's owner).
    PushUser {
        /// The user.
        uid: i64,
        /// The frame, as the sending node stamped it.
        frame: Bytes,
    },
    /// A user of this core joined or left a group.
    Membership {
        /// The user.
        uid: i64,
        /// The group.
        gid: i64,
        /// Joined (true) or left.
        joined: bool,
        /// Told once the user's connections are re-indexed.
        done: flume::Sender<()>,
    },
    /// `uid` left group `gid`: the group's core forgets its cached membership.
    Forget {
        /// The group.
        gid: i64,
        /// The user who left.
        uid: i64,
    },
    /// A keeper node's answer to a message a connection of this core forwarded.
    Replied {
        /// The connection.
        to: ConnRef,
        /// This node's number for the message (see [`super::awaiting`]).
        number: u32,
        /// The ack or error frame.
        frame: Bytes,
    },
    /// Node `from` has (or no longer has) connections for a user or group
    /// this core keeps.
    Presence {
        /// The node.
        from: crate::cluster::wire::NodeId,
        /// The record.
        record: crate::cluster::wire::Presence,
    },
    /// A peer came up or went down (a restart is both).
    Peer {
        /// The peer.
        node: crate::cluster::wire::NodeId,
        /// Up now.
        up: bool,
    },
    /// Begin the graceful drain.
    Drain,
    /// The store's report on appends this core made: (ticket, outcome).
    Durable(Vec<(u64, Result<(), crate::store::StoreError>)>),
    /// Several messages from one core, sent together to save channel and wake-up costs.
    Batch(Vec<CoreMsg>),
}

/// Drains the inbox until every sender is gone.
pub async fn run(core: Rc<Core>, rx: flume::Receiver<CoreMsg>) {
    while let Ok(first) = rx.recv_async().await {
        core.refresh_clock();
        handle(&core, first);
        for msg in rx.try_iter().take(BATCH) {
            handle(&core, msg);
        }
        if core.gate_waits() {
            // A ready message in the inbox does not make this task yield:
            // without a turn here, a log's store answer would not be taken
            // (and its messages would pile up) until the inbox ran dry.
            yield_once().await;
        }
    }
}

/// Lets the core's other ready tasks run once.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

fn handle(core: &Rc<Core>, msg: CoreMsg) {
    match msg {
        CoreMsg::Handoff {
            fd,
            uid,
            hello,
            pending,
        } => {
            let std = sys::adopt(fd);
            match std
                .set_nonblocking(true)
                .and_then(|()| monoio::net::TcpStream::from_std(std))
            {
                Ok(stream) => {
                    conn::spawn(core.clone(), stream, uid, hello, pending);
                }
                Err(e) => {
                    tracing::warn!(uid, error = %e, "adopting a handed-off socket failed");
                    core.shared.release_conn();
                }
            }
        }
        CoreMsg::Single {
            from,
            sender,
            env,
            payload,
        } => {
            let log = LogKey::Inbox(env.dstid);
            gate::admit(core, log, from, sender, env, Payload::Owned(payload))
        }
        CoreMsg::Room {
            from,
            sender,
            env,
            payload,
        } => {
            let log = LogKey::Group(env.dstid);
            gate::admit(core, log, from, sender, env, Payload::Owned(payload))
        }
        CoreMsg::Fanout {
            gid,
            frame,
            except,
            seq,
        } => core.fanout(gid, &frame, except, seq),
        CoreMsg::Deliver { to, frame } => core.push(to, frame),
        CoreMsg::PushUser { uid, frame } => {
            // Tracked like a local one, so the user's delivery cursor here
            // moves on and a replay running for it skips the frame.
            let seq = crate::msg::stamped_seq(&frame);
            if core.push_user(uid, &frame, seq) {
                if let Some(seq) = seq {
                    core.mark_delivered(uid, seq);
                }
            }
        }
        CoreMsg::Membership {
            uid,
            gid,
            joined,
            done,
        } => {
            core.membership(uid, gid, joined);
            presence::announce(core);
            if !joined {
                // Sent before the API answers the leave, so the group's core
                // refuses the user's next room message (see `known`).
                let owner = core_of(gid, core.shared.cores());
                if owner == core.id {
                    core.known.borrow_mut().forget_member(gid, uid);
                } else {
                    core.shared.send(owner, CoreMsg::Forget { gid, uid });
                }
            }
            let _ = done.send(());
        }
        CoreMsg::Forget { gid, uid } => core.known.borrow_mut().forget_member(gid, uid),
        CoreMsg::Replied { to, number, frame } => forward::answer(core, to, number, frame),
        CoreMsg::Presence { from, record } => presence::received(core, from, record),
        CoreMsg::Peer { node, up } => presence::peer_changed(core, node, up),
        CoreMsg::Drain => core.drain(),
        CoreMsg::Durable(done) => core.durable(done),
        CoreMsg::Batch(batch) => {
            for msg in batch {
                handle(core, msg);
            }
        }
    }
}
