//! The connection slab and its `uid -> connections` and `gid -> local
//! members` indexes. Owned by one core; no locks.

use crate::fasthash::FastMap;

use slab::Slab;

use super::{Liveness, OutQueue, TokenBucket};

/// A connection's address anywhere in the process: its core, its slab key,
/// and a generation that tells a reused key from the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnRef {
    /// The core holding the connection.
    pub core: u16,
    /// Slab key on that core.
    pub key: u32,
    /// Generation, unique per core.
    pub id: u32,
}

/// One WebSocket connection as its core sees it; `H` is the I/O handle.
pub struct Conn<H> {
    /// The authenticated user.
    pub uid: i64,
    /// Generation (see [`ConnRef::id`]).
    pub id: u32,
    /// The server's socket handle.
    pub io: H,
    /// Frames waiting to be written.
    pub out: OutQueue,
    /// Timing state for pings and timeouts.
    pub live: Liveness,
    /// Message rate limit.
    pub bucket: TokenBucket,
    /// Groups this connection is indexed under.
    pub groups: Vec<i64>,
    /// Queued in the core's flush list.
    pub dirty: bool,
    /// A write hit EAGAIN; a waiter task resumes it.
    pub write_blocked: bool,
}

/// A user or a group with connections on this core: what a cluster node
/// tells the owner of each, so the owner forwards their frames here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Present {
    /// A user with a connection here.
    User(i64),
    /// A group with a member connected here.
    Group(i64),
}

/// One core's connections and indexes.
pub struct Shard<H> {
    core: u16,
    conns: Slab<Conn<H>>,
    by_uid: FastMap<i64, Vec<u32>>,
    by_gid: FastMap<i64, Vec<u32>>,
    next_id: u32,
    /// Users and groups that gained their first or lost their last
    /// connection here, in order, until taken (see [`Shard::take_changes`]).
    changes: Vec<(Present, bool)>,
}

/// Removes `key` from `k`'s entry; true if that emptied (and dropped) it.
fn remove_key(map: &mut FastMap<i64, Vec<u32>>, k: i64, key: u32) -> bool {
    if let Some(v) = map.get_mut(&k) {
        v.retain(|&x| x != key);
        if v.is_empty() {
            map.remove(&k);
            return true;
        }
    }
    false
}

impl<H> Shard<H> {
    /// An empty table for core `core`.
    pub fn new(core: u16) -> Self {
        Self {
            core,
            conns: Slab::new(),
            by_uid: FastMap::default(),
            by_gid: FastMap::default(),
            next_id: 0,
            changes: Vec::new(),
        }
    }

    /// Adds a connection of `uid`, indexed under `groups`.
    pub fn insert(
        &mut self,
        uid: i64,
        io: H,
        groups: Vec<i64>,
        bucket: TokenBucket,
        now_ms: u64,
    ) -> ConnRef {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let key = self.conns.insert(Conn {
            uid,
            id,
            io,
            out: OutQueue::default(),
            live: Liveness::new(now_ms),
            bucket,
            groups: Vec::new(),
            dirty: false,
            write_blocked: false,
        }) as u32;
        let keys = self.by_uid.entry(uid).or_default();
        keys.push(key);
        if keys.len() == 1 {
            self.changes.push((Present::User(uid), true));
        }
        for g in groups {
            self.index_group(key, g);
        }
        ConnRef {
            core: self.core,
            key,
            id,
        }
    }

    fn index_group(&mut self, key: u32, gid: i64) {
        let c = &mut self.conns[key as usize];
        if !c.groups.contains(&gid) {
            c.groups.push(gid);
            let keys = self.by_gid.entry(gid).or_default();
            keys.push(key);
            if keys.len() == 1 {
                self.changes.push((Present::Group(gid), true));
            }
        }
    }

    /// Removes a connection and its index entries.
    pub fn remove(&mut self, r: ConnRef) -> Option<Conn<H>> {
        self.get(r)?;
        let c = self.conns.remove(r.key as usize);
        if remove_key(&mut self.by_uid, c.uid, r.key) {
            self.changes.push((Present::User(c.uid), false));
        }
        for &g in &c.groups {
            if remove_key(&mut self.by_gid, g, r.key) {
                self.changes.push((Present::Group(g), false));
            }
        }
        Some(c)
    }

    /// The connection `r` points at, if it is still the same one.
    pub fn get(&self, r: ConnRef) -> Option<&Conn<H>> {
        self.conns.get(r.key as usize).filter(|c| c.id == r.id)
    }

    /// Mutable access to the connection `r` points at.
    pub fn get_mut(&mut self, r: ConnRef) -> Option<&mut Conn<H>> {
        self.conns.get_mut(r.key as usize).filter(|c| c.id == r.id)
    }

    /// Mutable access by slab key alone.
    pub fn by_key_mut(&mut self, key: u32) -> Option<&mut Conn<H>> {
        self.conns.get_mut(key as usize)
    }

    /// The [`ConnRef`] of slab key `key`.
    pub fn conn_ref(&self, key: u32) -> Option<ConnRef> {
        self.conns.get(key as usize).map(|c| ConnRef {
            core: self.core,
            key,
            id: c.id,
        })
    }

    /// Whether `uid` has any connection here.
    pub fn has_user(&self, uid: i64) -> bool {
        self.by_uid.contains_key(&uid)
    }

    /// Slab keys of every connection of `uid`.
    pub fn user_keys(&self, uid: i64) -> &[u32] {
        self.by_uid.get(&uid).map_or(&[], Vec::as_slice)
    }

    /// Slab keys of every local connection of a member of `gid`.
    pub fn group_keys(&self, gid: i64) -> &[u32] {
        self.by_gid.get(&gid).map_or(&[], Vec::as_slice)
    }

    /// Indexes every connection of `uid` under `gid` (the user joined it).
    pub fn join(&mut self, uid: i64, gid: i64) {
        for key in self.user_keys(uid).to_vec() {
            self.index_group(key, gid);
        }
    }

    /// Drops every connection of `uid` from `gid`'s index (the user left it).
    pub fn leave(&mut self, uid: i64, gid: i64) {
        for key in self.user_keys(uid).to_vec() {
            self.conns[key as usize].groups.retain(|&g| g != gid);
            if remove_key(&mut self.by_gid, gid, key) {
                self.changes.push((Present::Group(gid), false));
            }
        }
    }

    /// The users and groups that gained their first (true) or lost their
    /// last (false) connection here since the last call, in order.
    pub fn take_changes(&mut self) -> Vec<(Present, bool)> {
        std::mem::take(&mut self.changes)
    }

    /// Every user and group with a connection here now.
    pub fn present(&self) -> impl Iterator<Item = Present> + '_ {
        let users = self.by_uid.keys().map(|&u| Present::User(u));
        users.chain(self.by_gid.keys().map(|&g| Present::Group(g)))
    }

    /// Every user with a connection here, with its connections' keys.
    pub fn users(&self) -> impl Iterator<Item = (i64, &[u32])> + '_ {
        self.by_uid.iter().map(|(&u, k)| (u, k.as_slice()))
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there are no connections.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Every (key, connection).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut Conn<H>)> {
        self.conns.iter_mut().map(|(k, c)| (k as u32, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> Shard<()> {
        Shard::new(0)
    }

    #[test]
    fn indexes_follow_inserts_and_removes() {
        let mut s = shard();
        let a = s.insert(1, (), vec![10, 11], TokenBucket::new(1, 0), 0);
        let b = s.insert(1, (), vec![10], TokenBucket::new(1, 0), 0);
        assert_eq!(s.user_keys(1), &[a.key, b.key]);
        assert_eq!(s.group_keys(10), &[a.key, b.key]);
        s.remove(a).unwrap();
        assert_eq!(s.user_keys(1), &[b.key]);
        assert_eq!(s.group_keys(10), &[b.key]);
        assert!(s.group_keys(11).is_empty());
        s.remove(b).unwrap();
        assert!(!s.has_user(1));
    }

    #[test]
    fn a_stale_ref_does_not_reach_a_reused_key() {
        let mut s = shard();
        let a = s.insert(1, (), vec![], TokenBucket::new(1, 0), 0);
        s.remove(a);
        let b = s.insert(2, (), vec![], TokenBucket::new(1, 0), 0);
        assert_eq!(a.key, b.key);
        assert!(s.get(a).is_none());
        assert!(s.remove(a).is_none());
        assert_eq!(s.get(b).unwrap().uid, 2);
    }

    #[test]
    fn join_and_leave_reindex_every_device() {
        let mut s = shard();
        let a = s.insert(1, (), vec![], TokenBucket::new(1, 0), 0);
        let b = s.insert(1, (), vec![], TokenBucket::new(1, 0), 0);
        s.join(1, 7);
        s.join(1, 7);
        assert_eq!(s.group_keys(7), &[a.key, b.key]);
        s.leave(1, 7);
        assert!(s.group_keys(7).is_empty());
        assert!(s.get(a).unwrap().groups.is_empty());
    }

    #[test]
    fn first_and_last_connections_of_users_and_groups_are_reported_once() {
        let mut s = shard();
        let a = s.insert(1, (), vec![10], TokenBucket::new(1, 0), 0);
        let b = s.insert(1, (), vec![10, 11], TokenBucket::new(1, 0), 0);
        use Present::{Group, User};
        assert_eq!(
            s.take_changes(),
            vec![(User(1), true), (Group(10), true), (Group(11), true)]
        );
        s.leave(1, 11);
        s.remove(a).unwrap();
        assert_eq!(s.take_changes(), vec![(Group(11), false)]);
        let mut now: Vec<Present> = s.present().collect();
        now.sort_by_key(|p| format!("{p:?}"));
        assert_eq!(now, vec![Group(10), User(1)]);
        s.remove(b).unwrap();
        assert_eq!(s.take_changes(), vec![(User(1), false), (Group(10), false)]);
        assert!(s.take_changes().is_empty());
    }
}
