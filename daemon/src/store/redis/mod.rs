//! Redis [`Store`]: the shared state of a cluster of imedge nodes, on one
//! Redis server or a Redis Cluster.
//!
//! * Sequences are atomic in Redis: each log has a counter beside its list,
//!   and the append script ([`scripts::APPEND`]) stores a message only if
//!   its seq is the counter + 1, moving the counter in the same step. A
//!   node that takes over a user or group reads the counter
//!   ([`Store::last_seq`]) and continues it: no gap, no reuse, whichever
//!   node wrote before.
//! * Appends never wait on the caller's thread: [`Store::append`] checks
//!   the seq against this node's view of the log, queues the message for
//!   the store thread ([`writer`]) and answers [`Appended::Pending`]; the
//!   store thread sends everything queued as one pipeline and reports each
//!   core's tickets in one callback. The ack (cmd 20) follows Redis's
//!   answer; what it then promises depends on Redis's persistence settings
//!   ([`durability`]).
//! * Retention: by count, trimmed by the append script (`LTRIM`); by age
//!   (`retention_days`), the script pops expired messages from the head of
//!   the log it appends to (a bounded number per append), sets the list to
//!   expire after the age limit (an idle log goes whole), and reads skip
//!   expired entries still present. The counter never expires.
//! * Keys: one hash tag per user and per group ([`keys`]), so Redis Cluster
//!   can shard them and no command spans two slots.
//! * Outages: while Redis is unreachable every call answers
//!   [`StoreError::Unavailable`] at once (cmd 21 code 503, HTTP 503), every
//!   queued append is reported failed, and the store thread reconnects with
//!   a capped, jittered back-off ([`backoff`]). Reads and directory calls
//!   run on the callers' threads over a small pool ([`pool`]) with connect
//!   and response timeouts, so an unreachable Redis costs a bounded wait.
//!
//! Configuration: `store = "redis://[user:pass@]host[:port][/db]"` for one
//! server, `store = "redis+cluster://[user:pass@]host:port,host:port,..."`
//! for a Redis Cluster given by its seed nodes.

mod backoff;
mod conn;
mod cursor;
mod directory;
pub mod durability;
mod keys;
mod pool;
mod scripts;
mod writer;

#[cfg(test)]
pub mod test_server;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use bytes::Bytes;

use super::{
    thread, Account, Appended, Cursor, Group, LogKey, Notify, Store, StoreError, Stored, Ticket,
};
use conn::{Target, Timeouts};
use pool::{down_error, Health, Pool};
use writer::Op;

/// A clock in Unix milliseconds (injectable so tests age messages without sleeping).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Where the Redis store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server, by its `redis://` or `rediss://` URL.
    Server(String),
    /// A Redis Cluster, by the `redis://` URLs of some of its nodes.
    Cluster(Vec<String>),
}

/// Settings of a [`RedisStore`].
#[derive(Clone)]
pub struct RedisOptions {
    /// Messages kept per inbox or group log (at least 1).
    pub retain: usize,
    /// Age after which messages are dropped, in days; 0 = no age limit.
    pub retain_days: u32,
    /// Requests the store thread may have queued; beyond, appends get 503.
    pub queue: usize,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Longest wait for one answer.
    pub response_timeout: Duration,
    /// Time source for message timestamps and age retention.
    pub clock: Clock,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            retain: 1000,
            retain_days: 30,
            queue: 65_536,
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_secs(2),
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
        }
    }
}

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL or node list was refused by the client.
    #[error("redis store: bad address: {0}")]
    Address(String),
    /// Redis did not answer at start.
    #[error("redis store: cannot reach {what}: {error}")]
    Connect {
        /// The server or cluster, without credentials.
        what: String,
        /// What failed.
        error: String,
    },
    /// The store thread could not start.
    #[error("redis store: cannot start the store thread: {0}")]
    Thread(String),
}

const SHARDS: usize = 64;

/// State shared by the callers and the store thread.
struct Shared {
    /// Last seq accepted (queued or stored) per log, as this node sees it.
    front: Vec<Mutex<HashMap<LogKey, u64>>>,
    /// Users known to exist (a positive cache; includes queued `ensure_user`s).
    known: Mutex<HashSet<i64>>,
    /// Groups known to exist (groups are never deleted).
    groups: Mutex<HashSet<i64>>,
    /// Cursors queued and not yet written.
    cursors: Mutex<HashMap<i64, Cursor>>,
    notify: RwLock<Option<Notify>>,
    health: Arc<Health>,
    pool: Pool,
    retain: usize,
    /// Age limit in ms, 0 for none.
    max_age_ms: i64,
    clock: Clock,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock: a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn shard(&self, log: LogKey) -> &Mutex<HashMap<LogKey, u64>> {
        let (k, id) = match log {
            LogKey::Inbox(u) => (0u64, u as u64),
            LogKey::Group(g) => (1u64, g as u64),
        };
        let h = (id ^ k.rotate_left(40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.front[(h >> 58) as usize % SHARDS]
    }

    /// Drops this node's view of `log`; the next `last_seq` reads Redis.
    fn forget_front(&self, log: LogKey) {
        lock(self.shard(log)).remove(&log);
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

/// The Redis backend; see the module docs.
pub struct RedisStore {
    shared: Arc<Shared>,
    tx: flume::Sender<Op>,
    thread: Option<std::thread::JoinHandle<()>>,
    closer: thread::Closer,
}

impl Drop for RedisStore {
    /// Lets the store thread send what is queued, then waits for it.
    fn drop(&mut self) {
        let (dead, _) = flume::bounded(1);
        drop(std::mem::replace(&mut self.tx, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `target` for logs and errors, without credentials.
fn describe(target: &RedisTarget) -> String {
    let host = |url: &str| {
        redis::Client::open(url)
            .map(|c| c.get_connection_info().addr.to_string())
            .unwrap_or_else(|_| "?".to_owned())
    };
    match target {
        RedisTarget::Server(url) => format!("redis at {}", host(url)),
        RedisTarget::Cluster(nodes) => format!(
            "redis cluster via {}",
            nodes.iter().map(|n| host(n)).collect::<Vec<_>>().join(",")
        ),
    }
}

impl RedisStore {
    /// Connects to `target`, checks its persistence settings (logging a
    /// warning when acked messages would not survive a Redis restart) and
    /// starts the store thread. Refuses to start when Redis does not answer.
    pub fn open(target: &RedisTarget, options: RedisOptions) -> Result<RedisStore, OpenError> {
        let timeouts = Timeouts {
            connect: options.connect_timeout,
            response: options.response_timeout,
        };
        let what = describe(target);
        let client = match target {
            RedisTarget::Server(url) => Target::single(url),
            RedisTarget::Cluster(nodes) => Target::cluster(nodes, timeouts),
        }
        .map_err(|e| OpenError::Address(e.to_string()))?;
        let connect_error = |e: redis::RedisError| OpenError::Connect {
            what: what.clone(),
            error: e.to_string(),
        };
        let mut conn = client.connect(timeouts).map_err(connect_error)?;
        conn.query::<String>(&redis::cmd("PING"))
            .map_err(connect_error)?;
        conn.load_scripts().map_err(connect_error)?;
        match target {
            RedisTarget::Server(_) => {
                durability::check(&mut conn, &what);
            }
            RedisTarget::Cluster(nodes) => {
                for node in nodes {
                    let Ok(Ok(mut c)) = Target::single(node).map(|t| t.connect(timeouts)) else {
                        continue;
                    };
                    durability::check(&mut c, &describe(&RedisTarget::Server(node.clone())));
                }
            }
        }
        let health = Arc::new(Health::default());
        let shared = Arc::new(Shared {
            front: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            known: Mutex::new(HashSet::new()),
            groups: Mutex::new(HashSet::new()),
            cursors: Mutex::new(HashMap::new()),
            notify: RwLock::new(None),
            health: health.clone(),
            pool: Pool::new(client.clone(), timeouts, health),
            retain: options.retain.max(1),
            max_age_ms: i64::from(options.retain_days) * 86_400_000,
            clock: options.clock.clone(),
        });
        let (tx, rx) = flume::bounded(options.queue.max(1));
        let (closer, closing) = thread::closer();
        let w = writer::Writer::new(client, timeouts, conn, shared.clone());
        let thread = std::thread::Builder::new()
            .name("imedge-redis".into())
            .spawn(move || w.run(rx, closing))
            .map_err(|e| OpenError::Thread(e.to_string()))?;
        tracing::info!(store = %what, "redis store open");
        Ok(RedisStore {
            shared,
            tx,
            thread: Some(thread),
            closer,
        })
    }

    fn queue(&self, op: Op) -> Result<(), StoreError> {
        self.tx.try_send(op).map_err(|e| match e {
            flume::TrySendError::Full(_) => {
                StoreError::Unavailable("redis store queue full (redis is not keeping up)".into())
            }
            flume::TrySendError::Disconnected(_) => {
                StoreError::Unavailable("redis store thread stopped".into())
            }
        })
    }

    fn pool(&self) -> &Pool {
        &self.shared.pool
    }
}

impl Store for RedisStore {
    fn ensure_user(&self, uid: i64) -> Result<(), StoreError> {
        if lock(&self.shared.known).contains(&uid) {
            return Ok(());
        }
        if self.shared.health.is_down() {
            return Err(down_error());
        }
        self.queue(Op::EnsureUser(uid))?;
        lock(&self.shared.known).insert(uid);
        Ok(())
    }

    fn user_exists(&self, uid: i64) -> Result<bool, StoreError> {
        if lock(&self.shared.known).contains(&uid) {
            return Ok(true);
        }
        let found = directory::user_exists(self.pool(), uid)?;
        if found {
            lock(&self.shared.known).insert(uid);
        }
        Ok(found)
    }

    fn last_seq(&self, log: LogKey) -> Result<u64, StoreError> {
        if let Some(l) = lock(self.shared.shard(log)).get(&log) {
            return Ok(*l);
        }
        // The last stored seq, or above it a reservation: seqs a node may
        // have shown live without storing them (it crashed, or lost the
        // owner's role); numbering resumes above those.
        let (stored, reserved): (Option<u64>, Option<u64>) = self.pool().with(|c| {
            c.query(
                redis::cmd("MGET")
                    .arg(keys::last(log))
                    .arg(keys::reserved(log)),
            )
        })?;
        let taken = stored.unwrap_or(0).max(reserved.unwrap_or(0));
        // Another caller may have loaded (and appended) meanwhile: keep theirs.
        Ok(*lock(self.shared.shard(log)).entry(log).or_insert(taken))
    }

    fn shows_after_commit(&self) -> bool {
        true
    }

    fn forget(&self, log: LogKey) {
        self.shared.forget_front(log);
    }

    fn append(
        &self,
        log: LogKey,
        seq: u64,
        frame: Bytes,
        ticket: Ticket,
    ) -> Result<Appended, StoreError> {
        if self.shared.health.is_down() {
            return Err(down_error());
        }
        // The cores ask last_seq before a log's first append, so this is a
        // map hit in practice.
        let last = self.last_seq(log)?;
        let mut shard = lock(self.shared.shard(log));
        let last = *shard.get(&log).unwrap_or(&last);
        if seq != last + 1 {
            return Err(StoreError::Unavailable(format!(
                "{log:?}: append seq {seq} after {last}"
            )));
        }
        // Queued under the shard lock so appends to one log enter the
        // queue, and so the pipeline, in seq order.
        self.queue(Op::Append {
            log,
            seq,
            entry: keys::entry((self.shared.clock)(), seq, &frame),
            ticket,
        })?;
        shard.insert(log, seq);
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
        // One reply must stay a sane size whatever the caller asks.
        let limit = limit.min(100_000);
        let list = keys::log(log);
        let entries: Vec<Vec<u8>> = self.pool().with(|c| {
            c.script(
                &scripts::READ,
                &[&list],
                &[after.to_string().as_bytes(), limit.to_string().as_bytes()],
            )
        })?;
        let cutoff = match self.shared.max_age_ms {
            0 => i64::MIN,
            age => (self.shared.clock)() - age,
        };
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            let (ts, seq, frame) = keys::split_entry(e).ok_or_else(|| {
                StoreError::Unavailable(format!("{log:?}: malformed entry in redis"))
            })?;
            // Expired entries the script has not popped yet: only a prefix
            // of the log may be dropped.
            if ts < cutoff && out.is_empty() {
                continue;
            }
            out.push(Stored {
                seq,
                frame: Bytes::copy_from_slice(frame),
            });
        }
        Ok(out)
    }

    fn register(
        &self,
        mobile: &str,
        password_hash: &str,
        nickname: &str,
    ) -> Result<Account, StoreError> {
        let known = |uid| lock(&self.shared.known).contains(&uid);
        let account = directory::register(self.pool(), &known, mobile, password_hash, nickname)?;
        lock(&self.shared.known).insert(account.uid);
        Ok(account)
    }

    fn account_by_mobile(&self, mobile: &str) -> Result<Option<Account>, StoreError> {
        directory::account_by_mobile(self.pool(), mobile)
    }

    fn nickname(&self, uid: i64) -> Result<Option<String>, StoreError> {
        if !self.user_exists(uid)? {
            return Ok(None);
        }
        directory::nickname(self.pool(), uid).map(Some)
    }

    fn add_friend(&self, a: i64, b: i64) -> Result<(), StoreError> {
        for u in [a, b] {
            if !self.user_exists(u)? {
                return Err(StoreError::NoSuchUser(u));
            }
        }
        directory::add_friend(self.pool(), a, b)
    }

    fn friends(&self, uid: i64) -> Result<Vec<(i64, String)>, StoreError> {
        directory::friends(self.pool(), uid)
    }

    fn cursor(&self, uid: i64) -> Result<Option<Cursor>, StoreError> {
        if let Some(c) = self.shared.lock_cursors().get(&uid) {
            return Ok(Some(c.clone()));
        }
        let stored: Option<String> = self
            .pool()
            .with(|c| c.query(redis::cmd("GET").arg(keys::cursor(uid))))?;
        stored.as_deref().map(cursor::decode).transpose()
    }

    fn set_cursor(&self, uid: i64, cursor: &Cursor) -> Result<(), StoreError> {
        // Overlay first, so a read right after sees it before Redis has it;
        // the store thread removes it once written.
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
        let g = directory::create_group(self.pool(), owner, name, icon, memo)?;
        lock(&self.shared.groups).insert(g.id);
        Ok(g)
    }

    fn join_group(&self, gid: i64, uid: i64) -> Result<(), StoreError> {
        directory::change_membership(self.pool(), gid, uid, true)
    }

    fn leave_group(&self, gid: i64, uid: i64) -> Result<(), StoreError> {
        directory::change_membership(self.pool(), gid, uid, false)
    }

    fn group_exists(&self, gid: i64) -> Result<bool, StoreError> {
        if lock(&self.shared.groups).contains(&gid) {
            return Ok(true);
        }
        let found = directory::group_exists(self.pool(), gid)?;
        if found {
            lock(&self.shared.groups).insert(gid);
        }
        Ok(found)
    }

    fn is_member(&self, gid: i64, uid: i64) -> Result<bool, StoreError> {
        // Not cached: other nodes change memberships too.
        directory::is_member(self.pool(), gid, uid)
    }

    fn user_groups(&self, uid: i64) -> Result<Vec<Group>, StoreError> {
        directory::user_groups(self.pool(), uid)
    }

    fn member_count(&self, gid: i64) -> Result<Option<u64>, StoreError> {
        directory::member_count(self.pool(), gid)
    }
}
