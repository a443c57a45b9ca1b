//! What happens to a client message: parse, rate-limit, then route single
//! messages to the recipient's core and room messages to the group's core,
//! where the sequence is taken, the frame built once, stored and delivered.

use std::rc::Rc;

use bytes::Bytes;

use super::core::{Core, PendingAck};
use super::forward;
use super::gate::{admit, Payload};
use super::inbox::CoreMsg;
use super::numbering::Show;
use super::origin::Origin;
use crate::msg::{self, Cmd, Envelope};
use crate::route::core_of;
use crate::shard::ConnRef;
use crate::store::{Appended, LogKey, StoreError};

/// Handles one complete text message from connection `from` of user `uid`.
pub fn message(core: &Rc<Core>, from: ConnRef, uid: i64, payload: &[u8]) {
    let parsed = msg::parse(payload, uid, &mut core.scratch.borrow_mut());
    let env = match parsed {
        Ok(env) => env,
        Err(rej) => return error(core, from, rej.id, rej.code, rej.msg),
    };
    core.counters().routed(env.cmd as u16);
    if env.cmd == Cmd::Heartbeat {
        return;
    }
    let allowed = {
        let limits = &core.shared.config;
        let now = core.now_ms();
        let mut shard = core.shard.borrow_mut();
        shard
            .get_mut(from)
            .is_some_and(|c| c.bucket.take(limits.rate_limit, limits.rate_burst, now))
    };
    if !allowed {
        return error(core, from, env.id, 429, "rate limit exceeded");
    }
    match env.cmd {
        Cmd::Heartbeat => {}
        Cmd::Single => {
            if !forward::local_log(core, from, uid, &env, payload) {
                return;
            }
            let owner = core_of(env.dstid, core.shared.cores());
            if owner == core.id {
                let log = LogKey::Inbox(env.dstid);
                admit(core, log, from.into(), uid, env, Payload::Borrowed(payload));
            } else {
                let payload = Bytes::copy_from_slice(payload);
                core.send(
                    owner,
                    CoreMsg::Single {
                        from: from.into(),
                        sender: uid,
                        env,
                        payload,
                    },
                );
            }
        }
        Cmd::Room => {
            if !forward::local_log(core, from, uid, &env, payload) {
                return;
            }
            let owner = core_of(env.dstid, core.shared.cores());
            if owner == core.id {
                let log = LogKey::Group(env.dstid);
                admit(core, log, from.into(), uid, env, Payload::Borrowed(payload));
            } else {
                let payload = Bytes::copy_from_slice(payload);
                core.send(
                    owner,
                    CoreMsg::Room {
                        from: from.into(),
                        sender: uid,
                        env,
                        payload,
                    },
                );
            }
        }
        Cmd::Sync => super::sync::sync(core, from, uid, &env),
    }
}

/// Sends a cmd 21 error to `to` and counts it.
pub fn error(core: &Core, to: ConnRef, id: i64, code: u16, reason: &str) {
    refuse(core, Origin::Local(to), id, code, reason);
}

/// Sends a cmd 21 error to a message's sender, here or on the peer that
/// forwarded it, and counts it.
pub fn refuse(core: &Core, to: Origin, id: i64, code: u16, reason: &str) {
    core.counters().error(code);
    core.reply(to, msg::error_frame(id, code, reason));
}

fn unavailable(core: &Core, to: Origin, id: i64, e: &StoreError) {
    tracing::warn!(error = %e, "store call failed; message refused with 503");
    refuse(core, to, id, 503, "store unavailable");
}

/// Numbers, stores and delivers a message the gate admitted to `log`, on
/// the core that owns the log: a single message to its recipient's
/// connections, a room message to the members online on every core.
pub fn accept(
    core: &Rc<Core>,
    log: LogKey,
    from: Origin,
    sender: i64,
    env: &Envelope,
    payload: &[u8],
) {
    let Some(a) = stamp_and_store(core, from, log, sender, env, payload) else {
        return;
    };
    let frame = a.frame.clone();
    let show = match log {
        LogKey::Inbox(uid) => Show::User { uid, frame },
        LogKey::Group(gid) => Show::Room {
            gid,
            frame,
            except: from.local_or_nobody(),
            skip: from.node(),
        },
    };
    if a.pending.is_some() && core.shared.store.shows_after_commit() {
        return ack(core, from, env.id, &a, Some(show));
    }
    core.show(a.log, a.seq, show);
    ack(core, from, env.id, &a, None);
}

/// A message numbered, framed and handed to the store.
struct Accepted {
    log: LogKey,
    seq: u64,
    ts: i64,
    frame: Bytes,
    /// The store's ticket when the append is not durable yet.
    pending: Option<u64>,
}

/// Takes the next seq of `log`, builds the frame once and hands it to the
/// store; live delivery does not wait for the store to make it durable.
fn stamp_and_store(
    core: &Core,
    from: Origin,
    log: LogKey,
    sender: i64,
    env: &Envelope,
    payload: &[u8],
) -> Option<Accepted> {
    let Some(seq) = core.next_seq(log) else {
        // The gate starts a log's numbering before admitting to it.
        refuse(core, from, env.id, 503, "store unavailable");
        return None;
    };
    if let Err(e) = core.reserve_for(log, seq) {
        unavailable(core, from, env.id, &e);
        return None;
    }
    let ts = core.unix_ms();
    let frame = msg::stamped_frame(payload, env, sender, seq, ts);
    let ticket = core.ticket();
    let pending = match core.shared.store.append(log, seq, frame.clone(), ticket) {
        Ok(Appended::Durable) => None,
        Ok(Appended::Pending) => Some(ticket.id),
        Err(e) => {
            unavailable(core, from, env.id, &e);
            return None;
        }
    };
    core.commit_seq(log, seq);
    Some(Accepted {
        log,
        seq,
        ts,
        frame,
        pending,
    })
}

/// Whether the sender of message `id` gets its ack: a client that gave no
/// id wants none, but a forwarding node always does (it learns the
/// message's fate, and a room message's seq, from it; see
/// [`super::forward::answer`]).
pub fn wants_ack(to: Origin, id: i64) -> bool {
    id != 0 || matches!(to, Origin::Peer { .. })
}

/// Acks now, or once the store reports the append durable (showing `show`
/// live then, when given).
fn ack(core: &Core, to: Origin, id: i64, a: &Accepted, show: Option<Show>) {
    match a.pending {
        Some(ticket) => core.ack_when_durable(
            ticket,
            PendingAck {
                log: a.log,
                to,
                id,
                seq: a.seq,
                ts: a.ts,
                show,
            },
        ),
        None if wants_ack(to, id) => core.reply(to, msg::ack_frame(id, a.seq, a.ts)),
        None => {}
    }
}
