//! SQLite [`Store`]: one database file in WAL mode.
//!
//! * Appends never touch the disk on the caller's thread: [`Store::append`]
//!   checks the seq against an in-memory "last accepted" map, queues the
//!   message for the store thread ([`writer`]) and answers
//!   [`Appended::Pending`]; the store thread commits whatever is queued in
//!   one transaction and reports each core's tickets in one callback.
//! * `ensure_user` and `set_cursor` also go through the store thread (in
//!   order with the appends), with an in-memory view so reads see them at
//!   once.
//! * A commit's messages of one log are one row, a [`segment`], and rows
//!   are kept in arrival order, found through a unique index per log
//!   ([`schema`], version 6): an append writes at the right edge of the
//!   table's tree, and a batch's rows go many to a statement ([`insert`]).
//! * WAL checkpoints run on their own thread ([`checkpoint`]).
//! * Group members are cached in memory ([`members`]): a room message's
//!   membership checks do not read the database.
//! * Reads, and the rare directory writes that must answer with an id or a
//!   refusal (`register`, `add_friend`, `create_group`, `join_group`,
//!   `leave_group`), run synchronously on a pooled connection ([`read`]).
//!
//! * Retention by count trims a log only once it holds `retain / 8` more
//!   messages than it keeps ([`retention`]); reads hide those, so a log
//!   reads as its newest `retain`. Disk: up to 1.125 × retain messages per
//!   log (and the older part of a segment across the trim point), plus a
//!   WAL of up to 64 MiB ([`open`]).
//! * Retention by age walks the logs' oldest rows ([`age`]): a few logs per
//!   second, so on a server with many logs an expired message may stay a
//!   while (1,000 logs a second) after it expires.
//!
//! Durability of a cmd 20 ack (it is sent after the commit), by [`Fsync`]:
//! `full` survives a process crash and a power loss; `normal` survives a
//! process crash, but a power loss may drop the last commits (WAL is synced
//! only at checkpoints); `off` survives a process crash only as far as the
//! OS page cache does, a power loss may lose or corrupt recent data.

mod age;
mod checkpoint;
mod insert;
mod members;
mod open;
mod read;
mod retention;
mod schema;
mod segment;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::memory::FIRST_UID;
use super::{
    thread, Account, Appended, Cursor, Group, LogKey, Notify, Store, StoreError, Stored, Ticket,
};
pub use open::{marker_path, OpenError};
use writer::Op;

/// How hard a commit pushes data to the disk (`PRAGMA synchronous`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Every commit is fsynced: acked messages survive a power loss.
    Full,
    /// The WAL is fsynced at checkpoints only: acked messages survive a
    /// process crash; a power loss may lose the last commits.
    Normal,
    /// Never fsync: a power loss may lose or corrupt recent data.
    Off,
}

impl Fsync {
    /// The `PRAGMA synchronous` value.
    fn pragma(self) -> &'static str {
        match self {
            Fsync::Full => "FULL",
            Fsync::Normal => "NORMAL",
            Fsync::Off => "OFF",
        }
    }
}

/// A clock in Unix milliseconds (injectable so tests age messages without sleeping).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Settings of a [`SqliteStore`].
#[derive(Clone)]
pub struct SqliteOptions {
    /// Messages kept per inbox or group log (at least 1).
    pub retain: usize,
    /// Age after which messages are deleted, in days; 0 = no age limit.
    pub retain_days: u32,
    /// Commit durability.
    pub fsync: Fsync,
    /// Requests the store thread may have queued; beyond, appends get 503.
    pub queue: usize,
    /// Time source for message timestamps and age retention.
    pub clock: Clock,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            retain: 1000,
            retain_days: 30,
            fsync: Fsync::Normal,
            queue: 65_536,
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
        }
    }
}

const SHARDS: usize = 64;

/// State shared by the callers and the store thread.
struct Shared {
    /// Last accepted (queued or committed) seq per log, sharded by key.
    front: Vec<Mutex<HashMap<LogKey, u64>>>,
    /// Users known to exist (a positive cache; includes queued `ensure_user`s).
    known: Mutex<HashSet<i64>>,
    /// Cursors queued and not yet committed.
    cursors: Mutex<HashMap<i64, Cursor>>,
    notify: RwLock<Option<Notify>>,
    commits: AtomicU64,
    /// Tests set this to stop like a crash: reservations are not released.
    crashed: std::sync::atomic::AtomicBool,
    retain: usize,
    max_age_ms: Option<i64>,
    clock: Clock,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock: a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn shard(&self, log: LogKey) -> &Mutex<HashMap<LogKey, u64>> {
        let (k, id) = kind_id(log);
        let h = (id as u64 ^ (k as u64).rotate_left(40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.front[(h >> 58) as usize % SHARDS]
    }

    fn reset_front(&self, log: LogKey, last: u64) {
        lock(self.shard(log)).insert(log, last);
    }

    fn lock_cursors(&self) -> MutexGuard<'_, HashMap<i64, Cursor>> {
        lock(&self.cursors)
    }

    fn notify(&self) -> Option<Notify> {
        self.notify
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The SQLite backend; see the module docs.
pub struct SqliteStore {
    shared: Arc<Shared>,
    pool: read::Pool,
    tx: flume::Sender<Op>,
    members: members::Members,
    thread: Option<std::thread::JoinHandle<()>>,
    closer: thread::Closer,
    /// Dropped after the store thread has ended (see `Drop`).
    _checkpointer: checkpoint::Checkpointer,
    path: PathBuf,
}

impl Drop for SqliteStore {
    /// Lets the store thread write what is queued, then waits for it, so the
    /// file is closed (and can be reopened) when this returns.
    fn drop(&mut self) {
        let (dead, _) = flume::bounded(1);
        drop(std::mem::replace(&mut self.tx, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl SqliteStore {
    /// Opens (or on first start creates) the database at `path` and starts
    /// its store thread. Refuses a corrupt, foreign, too new or deleted database.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore, OpenError> {
        let conn = open::open_checked(path, options.fsync)?;
        let shared = Arc::new(Shared {
            front: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            known: Mutex::new(HashSet::new()),
            cursors: Mutex::new(HashMap::new()),
            notify: RwLock::new(None),
            commits: AtomicU64::new(0),
            crashed: std::sync::atomic::AtomicBool::new(false),
            retain: options.retain.max(1),
            max_age_ms: (options.retain_days > 0)
                .then(|| i64::from(options.retain_days) * 86_400_000),
            clock: options.clock.clone(),
        });
        let (tx, rx) = flume::bounded(options.queue.max(1));
        let (closer, closing) = thread::closer();
        let w = writer::Writer::new(conn, shared.clone());
        let thread = std::thread::Builder::new()
            .name("imedge-store".into())
            .spawn(move || w.run(rx, closing))
            .map_err(|e| OpenError::Io {
                path: path.to_owned(),
                step: "starting the store thread",
                error: e.to_string(),
            })?;
        let checkpointer = checkpoint::Checkpointer::start(path, options.fsync)?;
        Ok(SqliteStore {
            shared,
            pool: read::Pool::new(path.to_owned(), options.fsync),
            tx,
            members: members::Members::default(),
            thread: Some(thread),
            closer,
            _checkpointer: checkpointer,
            path: path.to_owned(),
        })
    }

    /// Transactions committed by the store thread so far (group commit shows
    /// as fewer commits than appends).
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Runs age retention to the end now; the rows deleted.
    pub fn sweep_expired(&self) -> Result<usize, StoreError> {
        let (reply, rx) = std::sync::mpsc::channel();
        self.queue(Op::Sweep(reply))?;
        rx.recv()
            .map_err(|_| StoreError::Unavailable("store thread stopped".into()))
    }

    /// Stops the store thread like a crash would leave it: what is queued
    /// is written, but seq reservations are kept for the next start.
    #[cfg(test)]
    pub(crate) fn close_as_crash(self) {
        self.shared.crashed.store(true, Ordering::Relaxed);
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn queue(&self, op: Op) -> Result<(), StoreError> {
        self.tx.try_send(op).map_err(|e| match e {
            flume::TrySendError::Full(_) => {
                StoreError::Unavailable("store queue full (the disk is not keeping up)".into())
            }
            flume::TrySendError::Disconnected(_) => {
                StoreError::Unavailable("store thread stopped".into())
            }
        })
    }

    /// The members of `gid` from the database (None: no such group).
    fn load_members(&self, gid: i64) -> Result<Option<HashSet<i64>>, StoreError> {
        self.pool.with(|c| {
            if !group_exists(c, gid)? {
                return Ok(None);
            }
            let mut st = c
                .prepare_cached("SELECT uid FROM members WHERE gid = ?1")
                .map_err(unavailable)?;
            let rows = st.query_map([gid], |r| r.get(0)).map_err(unavailable)?;
            rows.collect::<Result<_, _>>()
                .map(Some)
                .map_err(unavailable)
        })
    }

    /// Runs a write transaction on a pooled connection.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.pool.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let out = f(&tx)?;
            tx.commit().map_err(unavailable)?;
            Ok(out)
        })
    }
}

/// A SQLite failure as the cores see it.
fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

/// The `(kind, id)` columns of a log: 0 = inbox, 1 = group.
fn kind_id(log: LogKey) -> (i64, i64) {
    match log {
        LogKey::Inbox(u) => (0, u),
        LogKey::Group(g) => (1, g),
    }
}

/// A cursor's group seqs as `gid:seq,gid:seq`.
fn encode_groups(groups: &[(i64, u64)]) -> String {
    groups
        .iter()
        .map(|(g, s)| format!("{g}:{s}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_groups(s: &str) -> Result<Vec<(i64, u64)>, StoreError> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once(':')
                .and_then(|(g, s)| Some((g.parse().ok()?, s.parse().ok()?)))
                .ok_or_else(|| StoreError::Unavailable(format!("bad cursor entry `{p}`")))
        })
        .collect()
}

impl Store for SqliteStore {
    fn ensure_user(&self, uid: i64) -> Result<(), StoreError> {
        if lock(&self.shared.known).contains(&uid) {
            return Ok(());
        }
        self.queue(Op::EnsureUser(uid))?;
        lock(&self.shared.known).insert(uid);
        Ok(())
    }

    fn user_exists(&self, uid: i64) -> Result<bool, StoreError> {
        if lock(&self.shared.known).contains(&uid) {
            return Ok(true);
        }
        let found = self.pool.with(|c| {
            c.prepare_cached("SELECT 1 FROM users WHERE uid = ?1")
                .and_then(|mut s| s.exists([uid]))
                .map_err(unavailable)
        })?;
        if found {
            lock(&self.shared.known).insert(uid);
        }
        Ok(found)
    }

    fn last_seq(&self, log: LogKey) -> Result<u64, StoreError> {
        if let Some(l) = lock(self.shared.shard(log)).get(&log) {
            return Ok(*l);
        }
        let stored = self
            .pool
            .with(|c| writer::load_last(c, log).map_err(unavailable))?;
        // Another caller may have loaded (and appended) meanwhile: keep theirs.
        Ok(*lock(self.shared.shard(log)).entry(log).or_insert(stored))
    }

    fn append(
        &self,
        log: LogKey,
        seq: u64,
        frame: Bytes,
        ticket: Ticket,
    ) -> Result<Appended, StoreError> {
        // The cores ask last_seq before a log's first append, so this load
        // is a map hit in practice.
        let last = self.last_seq(log)?;
        let mut shard = lock(self.shared.shard(log));
        let last = *shard.get(&log).unwrap_or(&last);
        if seq != last + 1 {
            return Err(StoreError::Unavailable(format!(
                "{log:?}: append seq {seq} after {last}"
            )));
        }
        // Queued under the shard lock so appends to one log enter the
        // queue in seq order.
        self.queue(Op::Append {
            log,
            seq,
            frame,
            ticket,
        })?;
        shard.insert(log, seq);
        Ok(Appended::Pending)
    }

    fn reserve(&self, log: LogKey, upto: u64, ticket: Ticket) -> Result<Appended, StoreError> {
        self.queue(Op::Reserve { log, upto, ticket })?;
        Ok(Appended::Pending)
    }

    fn close(&self, limit: std::time::Duration) {
        self.closer.close(limit);
    }

    fn set_notify(&self, notify: Notify) {
        *self
            .shared
            .notify
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(notify);
    }

    fn read(&self, log: LogKey, after: u64, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let (k, id) = kind_id(log);
        let limit = limit.min(i64::MAX as usize);
        self.pool.with(|c| {
            // One read transaction: the floor and the rows from one snapshot.
            let tx = c.transaction().map_err(unavailable)?;
            let newest: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(last_seq), 0) FROM segments WHERE kind = ?1 AND id = ?2",
                )
                .and_then(|mut st| st.query_row([k, id], |r| r.get(0)))
                .map_err(unavailable)?;
            // Retention trims a log only once it passes its slack (see
            // [`retention`]): the messages below its newest `retain` are
            // gone as far as readers can tell.
            let floor = (newest as u64).saturating_sub(self.shared.retain as u64);
            let above = after.max(floor).min(i64::MAX as u64);
            let mut st = tx
                .prepare_cached(
                    // Each segment matched holds at least one message above
                    // `above`: `limit` segments are enough.
                    "SELECT first_seq, frames FROM segments
                     WHERE kind = ?1 AND id = ?2 AND last_seq > ?3
                     ORDER BY last_seq LIMIT ?4",
                )
                .map_err(unavailable)?;
            let mut rows = st
                .query(params![k, id, above as i64, limit as i64])
                .map_err(unavailable)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(unavailable)? {
                let first = row.get::<_, i64>(0).map_err(unavailable)? as u64;
                let blob = Bytes::from(row.get::<_, Vec<u8>>(1).map_err(unavailable)?);
                let messages = segment::decode(first, blob).map_err(|e| {
                    StoreError::Unavailable(format!("sqlite: {log:?}: damaged {e}"))
                })?;
                let wanted = limit - out.len();
                out.extend(messages.into_iter().filter(|m| m.seq > above).take(wanted));
                if out.len() == limit {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn register(
        &self,
        mobile: &str,
        password_hash: &str,
        nickname: &str,
    ) -> Result<Account, StoreError> {
        let account = self.write(|tx| {
            let taken = tx
                .prepare_cached("SELECT 1 FROM accounts WHERE mobile = ?1")
                .and_then(|mut s| s.exists([mobile]))
                .map_err(unavailable)?;
            if taken {
                return Err(StoreError::MobileTaken);
            }
            let mut uid: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(uid) + 1, ?1) FROM users WHERE uid >= ?1",
                    [FIRST_UID],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
            // Users seen through tokens may still be queued, not yet in the table.
            {
                let known = lock(&self.shared.known);
                while known.contains(&uid) {
                    uid += 1;
                }
            }
            tx.execute("INSERT OR IGNORE INTO users (uid) VALUES (?1)", [uid])
                .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO accounts (uid, mobile, password_hash, nickname) VALUES (?1, ?2, ?3, ?4)",
                params![uid, mobile, password_hash, nickname],
            )
            .map_err(unavailable)?;
            Ok(Account {
                uid,
                mobile: mobile.to_owned(),
                password_hash: password_hash.to_owned(),
                nickname: nickname.to_owned(),
            })
        })?;
        lock(&self.shared.known).insert(account.uid);
        Ok(account)
    }

    fn account_by_mobile(&self, mobile: &str) -> Result<Option<Account>, StoreError> {
        self.pool.with(|c| {
            c.prepare_cached(
                "SELECT uid, mobile, password_hash, nickname FROM accounts WHERE mobile = ?1",
            )
            .and_then(|mut s| {
                s.query_row([mobile], |r| {
                    Ok(Account {
                        uid: r.get(0)?,
                        mobile: r.get(1)?,
                        password_hash: r.get(2)?,
                        nickname: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(unavailable)
        })
    }

    fn nickname(&self, uid: i64) -> Result<Option<String>, StoreError> {
        if !self.user_exists(uid)? {
            return Ok(None);
        }
        let name = self.pool.with(|c| {
            c.prepare_cached("SELECT nickname FROM accounts WHERE uid = ?1")
                .and_then(|mut s| s.query_row([uid], |r| r.get::<_, String>(0)).optional())
                .map_err(unavailable)
        })?;
        Ok(Some(name.unwrap_or_default()))
    }

    fn add_friend(&self, a: i64, b: i64) -> Result<(), StoreError> {
        for u in [a, b] {
            if !self.user_exists(u)? {
                return Err(StoreError::NoSuchUser(u));
            }
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO friends (a, b) VALUES (?1, ?2), (?2, ?1)",
                [a, b],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    fn friends(&self, uid: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.pool.with(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT f.b, COALESCE(a.nickname, '') FROM friends f
                     LEFT JOIN accounts a ON a.uid = f.b WHERE f.a = ?1 ORDER BY f.b",
                )
                .map_err(unavailable)?;
            let rows = st
                .query_map([uid], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
    }

    fn cursor(&self, uid: i64) -> Result<Option<Cursor>, StoreError> {
        if let Some(c) = self.shared.lock_cursors().get(&uid) {
            return Ok(Some(c.clone()));
        }
        let row = self.pool.with(|c| {
            c.prepare_cached("SELECT inbox, groups FROM cursors WHERE uid = ?1")
                .and_then(|mut s| {
                    s.query_row([uid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                        .optional()
                })
                .map_err(unavailable)
        })?;
        row.map(|(inbox, groups)| {
            Ok(Cursor {
                inbox: inbox as u64,
                groups: decode_groups(&groups)?,
            })
        })
        .transpose()
    }

    fn set_cursor(&self, uid: i64, cursor: &Cursor) -> Result<(), StoreError> {
        // Overlay first, so a read right after sees it even before the
        // commit; the store thread removes it once committed.
        let mut pending = self.shared.lock_cursors();
        self.queue(Op::SetCursor(uid, cursor.clone()))?;
        pending.insert(uid, cursor.clone());
        Ok(())
    }

    fn create_group(
        &self,
        owner: i64,
        name: &str,
        icon: &str,
        memo: &str,
    ) -> Result<Group, StoreError> {
        self.members.write(
            || {
                self.write(|tx| {
                    tx.execute(
                        "INSERT INTO groups (name, owner, icon, memo) VALUES (?1, ?2, ?3, ?4)",
                        params![name, owner, icon, memo],
                    )
                    .map_err(unavailable)?;
                    let id = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT OR IGNORE INTO members (gid, uid) VALUES (?1, ?2)",
                        [id, owner],
                    )
                    .map_err(unavailable)?;
                    Ok(Group {
                        id,
                        name: name.to_owned(),
                        owner,
                        icon: icon.to_owned(),
                        memo: memo.to_owned(),
                    })
                })
            },
            |g, sets| {
                sets.insert(g.id, HashSet::from([owner]));
            },
        )
    }

    fn join_group(&self, gid: i64, uid: i64) -> Result<(), StoreError> {
        self.change_membership(gid, uid, true)
    }

    fn leave_group(&self, gid: i64, uid: i64) -> Result<(), StoreError> {
        self.change_membership(gid, uid, false)
    }

    fn group_exists(&self, gid: i64) -> Result<bool, StoreError> {
        Ok(self
            .members
            .lookup(gid, 0, || self.load_members(gid))?
            .is_some())
    }

    fn is_member(&self, gid: i64, uid: i64) -> Result<bool, StoreError> {
        Ok(self.members.lookup(gid, uid, || self.load_members(gid))? == Some(true))
    }

    fn user_groups(&self, uid: i64) -> Result<Vec<Group>, StoreError> {
        self.pool.with(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT g.gid, g.name, g.owner, g.icon, g.memo FROM members m JOIN groups g ON g.gid = m.gid
                     WHERE m.uid = ?1 ORDER BY g.gid",
                )
                .map_err(unavailable)?;
            let rows = st
                .query_map([uid], |r| {
                    Ok(Group {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        owner: r.get(2)?,
                        icon: r.get(3)?,
                        memo: r.get(4)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
    }

    fn member_count(&self, gid: i64) -> Result<Option<u64>, StoreError> {
        self.pool.with(|c| {
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM members WHERE gid = ?1")
                .and_then(|mut st| st.query_row([gid], |r| r.get(0)))
                .map_err(unavailable)?;
            if n > 0 || group_exists(c, gid)? {
                Ok(Some(n as u64))
            } else {
                Ok(None)
            }
        })
    }
}

fn group_exists(c: &rusqlite::Connection, gid: i64) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM groups WHERE gid = ?1")
        .and_then(|mut s| s.exists([gid]))
        .map_err(unavailable)
}

impl SqliteStore {
    /// Adds (`joined`) or removes `uid` in group `gid`, in the database and
    /// in the members cache under one lock.
    fn change_membership(&self, gid: i64, uid: i64, joined: bool) -> Result<(), StoreError> {
        let sql = if joined {
            "INSERT OR IGNORE INTO members (gid, uid) VALUES (?1, ?2)"
        } else {
            "DELETE FROM members WHERE gid = ?1 AND uid = ?2"
        };
        self.members.write(
            || {
                self.write(|tx| {
                    if !group_exists(tx, gid)? {
                        return Err(StoreError::NoSuchGroup(gid));
                    }
                    tx.execute(sql, [gid, uid]).map_err(unavailable)?;
                    Ok(())
                })
            },
            |_, sets| {
                if let Some(set) = sets.get_mut(&gid) {
                    if joined {
                        set.insert(uid);
                    } else {
                        set.remove(&uid);
                    }
                }
            },
        )
    }
}
