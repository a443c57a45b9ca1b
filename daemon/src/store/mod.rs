//! The `Store`: users, groups and members, and the per-user inbox and
//! per-group log with their gapless sequences.
//!
//! Sequences have one writer: the core that owns the user (or group) asks
//! the store for the last stored seq once, then numbers messages itself and
//! appends them in order. Backends: [`memory::MemoryStore`] (no durability;
//! tests and comparisons with peers that store nothing).

pub mod memory;

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
}

/// Storage for accounts, groups and message logs. Shared by every core;
/// calls must be short and never wait on the network or the disk on the
/// caller's thread (backends that do I/O queue it to their own threads).
pub trait Store: Send + Sync + 'static {
    /// Makes `uid` known (its first authenticated connection).
    fn ensure_user(&self, uid: i64) -> Result<(), StoreError>;
    /// Whether `uid` is known (registered or seen connected).
    fn user_exists(&self, uid: i64) -> Result<bool, StoreError>;
    /// The last sequence number stored in `log` (0 when empty).
    fn last_seq(&self, log: LogKey) -> Result<u64, StoreError>;
    /// Appends a message; `seq` must be `last_seq(log) + 1`.
    fn append(&self, log: LogKey, seq: u64, frame: Bytes) -> Result<(), StoreError>;
    /// Up to `limit` stored messages of `log` with seq greater than `after`, in order.
    fn read(&self, log: LogKey, after: u64, limit: usize) -> Result<Vec<Stored>, StoreError>;
    /// Creates a group owned (and joined) by `owner`.
    fn create_group(&self, owner: i64, name: &str) -> Result<Group, StoreError>;
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
}
