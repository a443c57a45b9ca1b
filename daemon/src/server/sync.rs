//! Replays of stored messages: cmd 30 (after the client's last seen seqs,
//! then cmd 31) and the offline push at connect (after the cursor saved when
//! the user's last connection closed, then cmd 31 id 0). Runs on the user's
//! core, which owns its inbox, as a task per connection: the store is read
//! off the core a page at a time ([`super::pager`]), and the next page goes
//! out only as the connection's queue drains, so a replay of any size never
//! trips the slow-consumer bound. Frames for the connection that come
//! meanwhile wait behind the replay ([`super::held`]).

use std::rc::Rc;

use super::core::Core;
use super::dispatch::error;
use super::pager::{Ask, Pager};
use crate::msg::{self, Envelope, SyncRequest};
use crate::shard::ConnRef;
use crate::store::{Cursor, LogKey, StoreError, Stored};

/// Bytes of stored messages read and queued per page, about.
pub const PAGE_BYTES: usize = 256 * 1024;

/// What a replay answers.
enum Request {
    /// The offline push at connect.
    Push,
    /// A cmd 30 with its id.
    Sync(i64, SyncRequest),
}

/// The connection closed during the replay; nothing more to send.
struct Gone;

/// Starts the offline push on `to`, the first connection of `uid` (PROTOCOL.md
/// section 4): what was stored since its last connection closed (everything,
/// the first time), then `{"cmd":31,"id":0,...}`, before any live frame. A
/// group without a saved position replays from its start (within retention):
/// a member joining while offline sees the group's recent history.
pub fn offline_push(core: &Rc<Core>, to: ConnRef, uid: i64) {
    if core.begin_replay(to) {
        monoio::spawn(run(core.clone(), to, uid, Request::Push));
    }
}

/// Answers a cmd 30 from connection `to` of `uid`, after any replay running on it.
pub fn sync(core: &Rc<Core>, to: ConnRef, uid: i64, env: &Envelope) {
    let Some(req) = env.sync.clone() else {
        return error(core, to, env.id, 400, "sync without fields");
    };
    if let Err((id, req)) = core.queue_sync(to, (env.id, req)) {
        core.begin_replay(to);
        monoio::spawn(run(core.clone(), to, uid, Request::Sync(id, req)));
    }
}

/// Answers `first`, then each cmd 30 queued behind it, then ends the replay.
async fn run(core: Rc<Core>, to: ConnRef, uid: i64, first: Request) {
    let mut next = Some(first);
    while let Some(request) = next {
        if replay(&core, to, uid, request).await.is_err() {
            return core.end_replay(to);
        }
        next = core.next_sync(to).map(|(id, req)| Request::Sync(id, req));
    }
}

/// One replay: its pages, its cmd 31 (or a 503), then the frames held behind it.
async fn replay(core: &Rc<Core>, to: ConnRef, uid: i64, request: Request) -> Result<(), Gone> {
    let (id, plan) = match request {
        Request::Push => (0, push_plan(core, to, uid).await),
        Request::Sync(id, req) => (id, sync_plan(core, uid, req).await),
    };
    let mut pager = match plan {
        Ok(p) => p,
        Err(reason) => {
            refuse(core, to, uid, id, &reason);
            return release(core, to, uid, None).await;
        }
    };
    while let Some(ask) = pager.next() {
        let page = match read(core, ask).await {
            Ok(p) => p,
            Err(reason) => {
                refuse(core, to, uid, id, &reason);
                return release(core, to, uid, Some(&pager)).await;
            }
        };
        pager.page(page.0, &page.1, page.2);
        for m in page.1 {
            if !core.room(to, m.frame.len()).await {
                return Err(Gone);
            }
            core.push_replayed(to, m.frame);
            if ask.log == LogKey::Inbox(uid) {
                core.mark_delivered(uid, m.seq);
            }
        }
    }
    let mut inbox = 0;
    let mut groups = Vec::new();
    for (log, through) in pager.summary() {
        match log {
            LogKey::Inbox(_) => inbox = through,
            LogKey::Group(g) => groups.push((g as u64, through)),
        }
    }
    let done = msg::sync_done_frame(id, inbox, &groups, pager.truncated());
    if !core.room(to, done.len() + core.held_bytes(to)).await {
        return Err(Gone);
    }
    core.push_replayed(to, done);
    release(core, to, uid, Some(&pager)).await
}

/// Sends a replay's 503, ahead of the frames held behind it.
fn refuse(core: &Core, to: ConnRef, uid: i64, id: i64, reason: &str) {
    tracing::warn!(uid, id, reason, "replay failed; the client can sync");
    core.counters().error(503);
    let text = if id == 0 {
        "stored messages unavailable now; sync later"
    } else {
        "store unavailable"
    };
    core.push_replayed(to, msg::error_frame(id, 503, text));
}

/// Queues what was held behind the replay, minus what it carried (and
/// from now on drops what it carried from live frames: [`super::carried`]).
async fn release(core: &Core, to: ConnRef, uid: i64, pager: Option<&Pager>) -> Result<(), Gone> {
    if !core.room(to, core.held_bytes(to)).await {
        return Err(Gone);
    }
    if let Some(p) = pager {
        core.carried.borrow_mut().record(to, p.replayed());
    }
    for (tag, frame) in core.release_held(to) {
        if let Some((log, seq)) = tag {
            if core.carried.borrow_mut().already(to.key, log, seq) {
                continue;
            }
        }
        core.push_replayed(to, frame);
        if let Some((LogKey::Inbox(u), seq)) = tag {
            if u == uid {
                core.mark_delivered(uid, seq);
            }
        }
    }
    Ok(())
}

/// Runs `f` against the store on a read thread.
async fn off_core<T: Send + 'static>(
    core: &Core,
    f: impl FnOnce(&dyn crate::store::Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = core.shared.store.clone();
    let answer = core.shared.reads.run(move || f(&*store)).await;
    core.refresh_clock();
    match answer {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err((_, reason)) => Err(reason),
    }
}

/// Reads one page (and the log's end on its first).
async fn read(core: &Core, ask: Ask) -> Result<Read, String> {
    off_core(core, move |store| {
        let end = if ask.want_end {
            Some(store.last_seq(ask.log)?)
        } else {
            None
        };
        let page = store.read(ask.log, ask.after, ask.limit)?;
        // A log's first page that skips seqs: retention, or a crash's gap?
        // The oldest message kept tells (see Pager::page).
        let skips = page.first().is_none_or(|m| m.seq > ask.after + 1);
        let oldest = if ask.want_end && skips {
            store.read(ask.log, 0, 1)?.first().map(|m| m.seq)
        } else {
            None
        };
        Ok((end, page, oldest))
    })
    .await
}

/// A page as [`Pager::page`] takes it: the log's end, the messages, the oldest seq kept.
type Read = (Option<u64>, Vec<Stored>, Option<u64>);

/// The offline push's logs: the inbox and the connection's groups, after
/// the saved cursor.
async fn push_plan(core: &Core, to: ConnRef, uid: i64) -> Result<Pager, String> {
    // A cursor still being saved from the last connection is the one to start from.
    core.cursor_settled(uid).await;
    let cursor = off_core(core, move |store| store.cursor(uid)).await?;
    let cursor = cursor.unwrap_or_default();
    let groups = core
        .shard
        .borrow()
        .get(to)
        .map(|c| c.groups.clone())
        .unwrap_or_default();
    core.start_delivered(uid, cursor.inbox);
    let logs =
        std::iter::once((LogKey::Inbox(uid), cursor.inbox)).chain(groups.into_iter().map(|g| {
            let seen = cursor
                .groups
                .iter()
                .find(|(c, _)| *c == g)
                .map_or(0, |(_, s)| *s);
            (LogKey::Group(g), seen)
        }));
    Ok(Pager::new(logs.collect::<Vec<_>>(), PAGE_BYTES))
}

/// A cmd 30's logs: the inbox and the groups asked for that `uid` is a member of.
async fn sync_plan(core: &Core, uid: i64, req: SyncRequest) -> Result<Pager, String> {
    let groups = off_core(core, move |store| {
        let mut member = Vec::with_capacity(req.groups.len());
        for (gid, after) in req.groups {
            if store.is_member(gid as i64, uid)? {
                member.push((LogKey::Group(gid as i64), after));
            }
        }
        Ok((req.inbox, member))
    })
    .await?;
    let logs = std::iter::once((LogKey::Inbox(uid), groups.0)).chain(groups.1);
    Ok(Pager::new(logs.collect::<Vec<_>>(), PAGE_BYTES))
}

/// Saves where `uid`'s delivery stands as its last connection closes, off
/// the core; the user's next offline push waits for it.
pub fn save_cursor(core: &Rc<Core>, uid: i64, groups: &[i64]) {
    // Where delivery to the user actually got to, not the log's end.
    let delivered = core.take_delivered(uid);
    let groups = groups.to_vec();
    let (done, rx) = core.saving_cursor(uid);
    let core = core.clone();
    monoio::spawn(async move {
        let saved = off_core(&core, move |store| {
            let _done = done;
            let inbox = match delivered {
                Some(seq) => seq,
                None => store.last_seq(LogKey::Inbox(uid))?,
            };
            let mut c = Cursor {
                inbox,
                groups: Vec::with_capacity(groups.len()),
            };
            for g in groups {
                c.groups.push((g, store.last_seq(LogKey::Group(g))?));
            }
            store.set_cursor(uid, &c)
        })
        .await;
        core.cursor_saved(uid, &rx);
        if let Err(e) = saved {
            tracing::warn!(uid, error = %e, "saving the delivery cursor failed; the next push may repeat messages");
        }
    });
}
