//! Admission of a message into its log on the core that owns the log: the
//! checks (recipient known, group exists, sender a member) and the log's
//! next seq come from the core's caches; on a miss the message waits in its
//! log's queue while one task asks the store off the core, and every later
//! message for that log queues behind it, so each sender's messages keep
//! their order while other logs (and connections) keep going.

use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;

use super::core::Core;
use super::dispatch::{accept, refuse};
use super::origin::Origin;
use crate::msg::Envelope;
use crate::store::{LogKey, Store, StoreError};

/// Messages waiting per log at most while its store read runs; beyond, 503.
pub const MAX_WAITING: usize = 4096;

/// Payload bytes waiting per log at most; beyond, 503.
pub const MAX_WAITING_BYTES: usize = 8 << 20;

/// Store reads made for one message at most (a cached answer can be dropped
/// between two, e.g. a failed append resets the log's numbering).
const MAX_ASKS: usize = 3;

/// A message waiting for its log's store read.
pub struct Inbound {
    /// The sending connection (for the ack or error).
    pub from: Origin,
    /// The authenticated sender.
    pub sender: i64,
    /// The parsed envelope.
    pub env: Envelope,
    /// The client's JSON object.
    pub payload: Bytes,
}

/// A message's payload: in the connection's read buffer (copied only if it
/// must wait) or already owned (handed over by another core).
pub enum Payload<'a> {
    /// Borrowed from the core's read buffer.
    Borrowed(&'a [u8]),
    /// Owned.
    Owned(Bytes),
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(b) => b,
        }
    }

    fn into_owned(self) -> Bytes {
        match self {
            Payload::Borrowed(b) => Bytes::copy_from_slice(b),
            Payload::Owned(b) => b,
        }
    }
}

/// The store facts a message needs that the caches do not hold.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Query {
    /// The log whose last seq is needed.
    pub last: Option<LogKey>,
    /// The recipient whose existence is needed.
    pub user: Option<i64>,
    /// The group whose existence is needed.
    pub group: Option<i64>,
    /// The (group, user) membership needed.
    pub member: Option<(i64, i64)>,
}

/// The store's answers to a [`Query`] (`None`: not asked).
#[derive(Clone, Copy, Default, Debug)]
pub struct Answers {
    last: Option<u64>,
    user: Option<bool>,
    group: Option<bool>,
    member: Option<bool>,
}

/// What to do with a message now.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Number, store and deliver it.
    Go,
    /// Refuse it with this cmd 21 code and reason.
    Refuse(u16, &'static str),
    /// Ask the store first.
    Ask(Query),
}

/// Judges a message from `sender` for `log` by the caches and by `told`,
/// the answers already fetched for this very message (their negatives).
pub fn verdict(core: &Core, log: LogKey, sender: i64, told: Option<&Answers>) -> Verdict {
    let known = core.known.borrow();
    let mut q = Query::default();
    match log {
        LogKey::Inbox(dst) => {
            if !known.user(dst) {
                if told.is_some_and(|a| a.user == Some(false)) {
                    return Verdict::Refuse(404, "unknown recipient");
                }
                q.user = Some(dst);
            }
        }
        LogKey::Group(gid) => {
            if !known.group(gid) {
                if told.is_some_and(|a| a.group == Some(false)) {
                    return Verdict::Refuse(404, "unknown group");
                }
                q.group = Some(gid);
            }
            if !known.member(gid, sender, core.now_ms()) {
                if told.is_some_and(|a| a.member == Some(false)) {
                    return Verdict::Refuse(403, "not a member of this group");
                }
                q.member = Some((gid, sender));
            }
        }
    }
    if !core.numbered(log) {
        q.last = Some(log);
    }
    if q == Query::default() {
        Verdict::Go
    } else {
        Verdict::Ask(q)
    }
}

/// Runs `q` against the store (on a read thread).
fn ask(store: &dyn Store, q: Query) -> Result<Answers, StoreError> {
    let mut a = Answers::default();
    if let Some(uid) = q.user {
        a.user = Some(store.user_exists(uid)?);
    }
    if let Some(gid) = q.group {
        a.group = Some(store.group_exists(gid)?);
    }
    if let Some((gid, uid)) = q.member {
        a.member = Some(store.is_member(gid, uid)?);
    }
    if let Some(log) = q.last {
        a.last = Some(store.last_seq(log)?);
    }
    Ok(a)
}

/// Caches the positive answers to `q`.
fn remember(core: &Core, q: &Query, a: &Answers) {
    let mut known = core.known.borrow_mut();
    if let (Some(uid), Some(true)) = (q.user, a.user) {
        known.add_user(uid);
    }
    if let (Some(gid), Some(true)) = (q.group, a.group) {
        known.add_group(gid);
    }
    if let (Some((gid, uid)), Some(true)) = (q.member, a.member) {
        known.add_member(gid, uid, core.now_ms());
    }
    drop(known);
    if let (Some(log), Some(last)) = (q.last, a.last) {
        core.start_numbering(log, last);
    }
}

/// Admits a message for `log`: at once when the caches decide it and no
/// earlier message of the log waits, else behind the log's store read.
pub fn admit(
    core: &Rc<Core>,
    log: LogKey,
    from: Origin,
    sender: i64,
    env: Envelope,
    payload: Payload<'_>,
) {
    if !core.gate_busy(log) {
        match verdict(core, log, sender, None) {
            Verdict::Go => return accept(core, log, from, sender, &env, payload.bytes()),
            Verdict::Refuse(code, reason) => return refuse(core, from, env.id, code, reason),
            Verdict::Ask(_) => {}
        }
    }
    let inbound = Inbound {
        from,
        sender,
        env,
        payload: payload.into_owned(),
    };
    match core.gate_wait(log, inbound) {
        Ok(true) => {
            monoio::spawn(drain(core.clone(), log));
        }
        Ok(false) => {}
        Err(refused) => refuse(core, refused.from, refused.env.id, 503, "server busy"),
    }
}

/// Admits `log`'s waiting messages in order, asking the store as needed,
/// until none waits.
async fn drain(core: Rc<Core>, log: LogKey) {
    while let Some(m) = core.gate_next(log) {
        let mut told: Option<Answers> = None;
        let mut asks = 0;
        loop {
            match verdict(&core, log, m.sender, told.as_ref()) {
                Verdict::Go => {
                    accept(&core, log, m.from, m.sender, &m.env, &m.payload);
                    break;
                }
                Verdict::Refuse(code, reason) => {
                    refuse(&core, m.from, m.env.id, code, reason);
                    break;
                }
                Verdict::Ask(_) if asks == MAX_ASKS => {
                    refuse(&core, m.from, m.env.id, 503, "store unavailable");
                    break;
                }
                Verdict::Ask(q) => {
                    asks += 1;
                    let store = core.shared.store.clone();
                    let answer = core.shared.reads.run(move || ask(&*store, q)).await;
                    core.refresh_clock();
                    match answer {
                        Ok(Ok(a)) => {
                            remember(&core, &q, &a);
                            told = Some(a);
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "store read failed; message refused with 503");
                            refuse(&core, m.from, m.env.id, 503, "store unavailable");
                            break;
                        }
                        Err((code, reason)) => {
                            refuse(&core, m.from, m.env.id, code, &reason);
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// A log's waiting messages; its presence marks a store read in progress.
#[derive(Default)]
pub struct Waiting {
    /// The messages, in arrival order.
    pub queue: VecDeque<Inbound>,
    /// Their payload bytes.
    pub bytes: usize,
}
