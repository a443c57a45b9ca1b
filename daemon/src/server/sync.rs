//! Replays of stored messages: cmd 30 (after the client's last seen seqs,
//! then cmd 31 with the latest) and the offline push at connect (after the
//! cursor saved when the user's last connection closed, then cmd 31 id 0).
//! Runs on the user's core, which owns its inbox.

use std::rc::Rc;

use super::core::Core;
use super::dispatch::error;
use crate::msg::{self, Envelope};
use crate::shard::ConnRef;
use crate::store::{Cursor, LogKey, StoreError};

/// Most messages replayed per log in one sync; the client syncs again from the last seq.
pub const MAX_REPLAY: usize = 10_000;

/// Answers a cmd 30 from connection `to` of `uid`.
pub fn sync(core: &Rc<Core>, to: ConnRef, uid: i64, env: &Envelope) {
    let Some(req) = env.sync.as_ref() else {
        return error(core, to, env.id, 400, "sync without fields");
    };
    match replay(core, to, uid, req.inbox, &req.groups) {
        Ok((inbox, groups, truncated)) => {
            core.push(to, msg::sync_done_frame(env.id, inbox, &groups, truncated))
        }
        Err(e) => {
            tracing::warn!(uid, error = %e, "sync failed");
            error(core, to, env.id, 503, "store unavailable")
        }
    }
}

/// Pushes what `log` holds after `after`; returns its latest seq and whether
/// retention had dropped messages the client asked for.
fn replay_log(
    core: &Core,
    to: ConnRef,
    log: LogKey,
    after: u64,
) -> Result<(u64, bool), StoreError> {
    let store = &core.shared.store;
    let latest = store.last_seq(log)?;
    if latest <= after {
        return Ok((latest, false));
    }
    let msgs = store.read(log, after, MAX_REPLAY)?;
    let truncated = msgs.first().is_none_or(|m| m.seq > after + 1);
    for m in msgs {
        if let LogKey::Inbox(uid) = log {
            core.mark_delivered(uid, m.seq);
        }
        core.push(to, m.frame);
    }
    Ok((latest, truncated))
}

type Replayed = (u64, Vec<(u64, u64)>, bool);

fn replay(
    core: &Core,
    to: ConnRef,
    uid: i64,
    inbox_after: u64,
    groups: &[(u64, u64)],
) -> Result<Replayed, StoreError> {
    let (inbox, mut truncated) = replay_log(core, to, LogKey::Inbox(uid), inbox_after)?;
    let mut latest = Vec::with_capacity(groups.len());
    for &(gid, after) in groups {
        if !core.shared.store.is_member(gid as i64, uid)? {
            continue;
        }
        let (last, t) = replay_log(core, to, LogKey::Group(gid as i64), after)?;
        truncated |= t;
        latest.push((gid, last));
    }
    Ok((inbox, latest, truncated))
}

/// The offline push (PROTOCOL.md section 4): a user connecting while none
/// of its connections is open gets, before any live frame, what was stored
/// since its last connection closed (everything, the first time), then
/// `{"cmd":31,"id":0,...}`. A group without a saved position replays from
/// its start (within retention): a member joining while offline sees the
/// group's recent history.
pub fn offline_push(core: &Core, to: ConnRef, uid: i64) {
    let groups = core
        .shard
        .borrow()
        .get(to)
        .map(|c| c.groups.clone())
        .unwrap_or_default();
    let pushed = core.shared.store.cursor(uid).and_then(|cursor| {
        let cursor = cursor.unwrap_or_default();
        core.start_delivered(uid, cursor.inbox);
        let after: Vec<(u64, u64)> = groups
            .iter()
            .map(|&g| {
                let seen = cursor
                    .groups
                    .iter()
                    .find(|(c, _)| *c == g)
                    .map_or(0, |(_, s)| *s);
                (g as u64, seen)
            })
            .collect();
        replay(core, to, uid, cursor.inbox, &after)
    });
    match pushed {
        Ok((inbox, groups, truncated)) => {
            core.push(to, msg::sync_done_frame(0, inbox, &groups, truncated))
        }
        Err(e) => {
            tracing::warn!(uid, error = %e, "offline push failed; the client can sync");
            error(
                core,
                to,
                0,
                503,
                "stored messages unavailable now; sync later",
            )
        }
    }
}

/// Saves where `uid`'s delivery stands as its last connection closes.
pub fn save_cursor(core: &Core, uid: i64, groups: &[i64]) {
    let store = &core.shared.store;
    let cursor = (|| -> Result<Cursor, StoreError> {
        // Where delivery to the user actually got to, not the log's end.
        let inbox = match core.take_delivered(uid) {
            Some(seq) => seq,
            None => store.last_seq(LogKey::Inbox(uid))?,
        };
        let mut c = Cursor {
            inbox,
            groups: Vec::with_capacity(groups.len()),
        };
        for &g in groups {
            c.groups.push((g, store.last_seq(LogKey::Group(g))?));
        }
        Ok(c)
    })();
    if let Err(e) = cursor.and_then(|c| store.set_cursor(uid, &c)) {
        tracing::warn!(uid, error = %e, "saving the delivery cursor failed; the next push may repeat messages");
    }
}
