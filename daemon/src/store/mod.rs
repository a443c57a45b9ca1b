//! The `Store`: users, groups and members, and the per-user inbox and
//! per-group log with their gapless sequences.
//!
//! Sequences have one writer: the core that owns the user (or group) asks
//! the store for the last stored seq once, then numbers messages itself and
//! appends them in order. Backends: [`memory::MemoryStore`] (no durability;
//! tests and comparisons with peers that store nothing),
//! [`sqlite::SqliteStore`] (the default) and [`redis::RedisStore`] (shared
//! by the nodes of a cluster; the counters themselves live in Redis).

#[cfg(test)]
pub mod conformance;
pub mod memory;
pub mod redis;
pub mod sqlite;
pub mod thread;

use std::sync::Arc;

use bytes::Bytes;

/// Why a store call failed; the router turns it into cmd 21 code 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot take the request now (down, overloaded).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The named group does not exist.
    #[error("group {0} does not exist")]
    NoSuchGroup(i64),
    /// The named user does not exist.
    #[error("user {0} does not exist")]
    NoSuchUser(i64),
    /// The mobile number is already registered.
    #[error("mobile number already registered")]
    MobileTaken,
}

/// Which log a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKey {
    /// The inbox of a user (single messages addressed to it).
    Inbox(i64),
    /// The log of a group (room messages).
    Group(i64),
}

/// A stored message: its sequence number in its log and the exact frame
/// delivered live, so a replay is byte-identical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Sequence number in the log, from 1.
    pub seq: u64,
    /// The WebSocket frame as delivered live.
    pub frame: Bytes,
}

/// A group as the HTTP API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Group id, from 1.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The user who created it.
    pub owner: i64,
    /// Picture URL given at creation (may be empty).
    pub icon: String,
    /// Description given at creation (may be empty).
    pub memo: String,
}

/// A registered account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// User id.
    pub uid: i64,
    /// Login name (a phone number in the seed design).
    pub mobile: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Display name.
    pub nickname: String,
}

/// Where a user's delivery stood when its last connection closed: the
/// offline push at its next connect starts after these seqs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Last inbox seq delivered.
    pub inbox: u64,
    /// Last seq delivered per group.
    pub groups: Vec<(i64, u64)>,
}

/// Names one append so its durability can be reported to the core that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The core waiting for the answer.
    pub core: usize,
    /// That core's number for the append.
    pub id: u64,
}

/// What [`Store::append`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Durable (as this backend defines it) already: the caller acks now.
    Durable,
    /// Queued: the ticket comes back through the [`Notify`] callback.
    Pending,
}

/// Reports finished appends to core `core`: (ticket id, outcome) pairs,
/// batched. Called on the store's own thread.
pub type Notify = Arc<dyn Fn(usize, Vec<(u64, Result<(), StoreError>)>) + Send + Sync>;

/// Storage for accounts, groups and message logs. Shared by every core;
/// calls must be short and never wait on the network or the disk on the
/// caller's thread (backends that do I/O queue it to their own threads).
pub trait Store: Send + Sync + 'static {
    /// Makes `uid` known (its first authenticated connection).
    fn ensure_user(&self, uid: i64) -> Result<(), StoreError>;
    /// Whether `uid` is known (registered or seen connected).
    fn user_exists(&self, uid: i64) -> Result<bool, StoreError>;
    /// The last sequence number taken in `log`: stored, queued, or (after a
    /// crash) covered by a durable reservation, so numbering continues above
    /// every seq that may have been shown (0 for a new log).
    fn last_seq(&self, log: LogKey) -> Result<u64, StoreError>;
    /// Makes durable the promise that seqs of `log` up to `upto` may be
    /// delivered live before they are stored, so that after a crash the
    /// log's numbering resumes above `upto` and a seq a client has seen is
    /// never given to another message (a crash costs a gap, never a reuse).
    /// Backends durable at once, and those that show nothing before it is
    /// stored (see [`Store::shows_after_commit`]), need nothing: the default
    /// answers [`Appended::Durable`]. A pending reservation is reported
    /// through [`Notify`] like an append; an error means nothing was queued.
    fn reserve(&self, _log: LogKey, _upto: u64, _ticket: Ticket) -> Result<Appended, StoreError> {
        Ok(Appended::Durable)
    }
    /// Whether a message is shown live only once its append is durable
    /// (its ack time) rather than at once. A store shared between nodes
    /// says yes: no seq is then ever seen that the store does not hold, so
    /// when a node dies, the next owner of its logs continues at the last
    /// stored seq, with no gap and no reuse, and no reservation is needed.
    /// The cost is live latency: one store round trip. A store one process
    /// owns says no (the default): it shows at once and covers what it
    /// shows with reservations (see [`Store::reserve`]).
    fn shows_after_commit(&self) -> bool {
        false
    }
    /// The orderly stop: writes what is queued, releases the seq
    /// reservations (every seq shown is stored now, so the next start, or
    /// the next owner, numbers on with no gap) and ends the store's thread,
    /// waiting for it at most `limit`. Requests made after it are not
    /// answered. Backends durable at once have nothing to do.
    fn close(&self, _limit: std::time::Duration) {}
    /// This process numbers `log` no more (another node owns it now): a
    /// store shared between nodes drops what it caches of the log, so the
    /// next `last_seq` reads it again. Backends one process owns have
    /// nothing to drop.
    fn forget(&self, _log: LogKey) {}
    /// Appends a message; `seq` must be `last_seq(log) + 1` (counting
    /// pending appends). Never waits for the disk: a backend that commits
    /// later answers [`Appended::Pending`] and reports `ticket` through the
    /// [`Notify`] it was given; an error here means nothing was queued.
    fn append(
        &self,
        log: LogKey,
        seq: u64,
        frame: Bytes,
        ticket: Ticket,
    ) -> Result<Appended, StoreError>;
    /// Gives the backend the callback that reports pending appends
    /// (backends that are durable at once ignore it).
    fn set_notify(&self, _notify: Notify) {}
    /// Up to `limit` stored messages of `log` with seq greater than `after`, in order.
    fn read(&self, log: LogKey, after: u64, limit: usize) -> Result<Vec<Stored>, StoreError>;
    /// Registers an account with a fresh uid (known from then on).
    fn register(
        &self,
        mobile: &str,
        password_hash: &str,
        nickname: &str,
    ) -> Result<Account, StoreError>;
    /// The account registered with `mobile`.
    fn account_by_mobile(&self, mobile: &str) -> Result<Option<Account>, StoreError>;
    /// The display name of `uid` (empty for users seen only through tokens).
    fn nickname(&self, uid: i64) -> Result<Option<String>, StoreError>;
    /// Makes `a` and `b` friends of each other (both must be known).
    fn add_friend(&self, a: i64, b: i64) -> Result<(), StoreError>;
    /// The friends of `uid` with their display names, by uid.
    fn friends(&self, uid: i64) -> Result<Vec<(i64, String)>, StoreError>;
    /// Where `uid`'s delivery stood when its last connection closed.
    fn cursor(&self, uid: i64) -> Result<Option<Cursor>, StoreError>;
    /// Records where `uid`'s delivery stands as its last connection closes.
    fn set_cursor(&self, uid: i64, cursor: &Cursor) -> Result<(), StoreError>;
    /// Creates a group owned (and joined) by `owner`.
    fn create_group(
        &self,
        owner: i64,
        name: &str,
        icon: &str,
        memo: &str,
    ) -> Result<Group, StoreError>;
    /// Adds `uid` to group `gid` (no-op if already a member).
    fn join_group(&self, gid: i64, uid: i64) -> Result<(), StoreError>;
    /// Removes `uid` from group `gid` (no-op if not a member).
    fn leave_group(&self, gid: i64, uid: i64) -> Result<(), StoreError>;
    /// Whether group `gid` exists.
    fn group_exists(&self, gid: i64) -> Result<bool, StoreError>;
    /// Whether `uid` is a member of `gid`.
    fn is_member(&self, gid: i64, uid: i64) -> Result<bool, StoreError>;
    /// The groups `uid` belongs to.
    fn user_groups(&self, uid: i64) -> Result<Vec<Group>, StoreError>;
    /// How many members group `gid` has; `None` when the group does not
    /// exist or the backend cannot count (the API then leaves it out).
    fn member_count(&self, _gid: i64) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}
