//! In-memory [`Store`]: nothing survives a restart.
//!
//! Logs are sharded by key over independent mutexes so the cores, which
//! append to disjoint users and groups, rarely meet on a lock.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

use super::{Account, Appended, Cursor, Group, LogKey, Store, StoreError, Stored, Ticket};

const SHARDS: usize = 64;
/// Registered accounts get uids from here up; ids below are left to outside
/// login systems that mint their own tokens.
pub const FIRST_UID: i64 = 1_000_000;

#[derive(Default)]
struct Log {
    /// Seq of `entries[0]`; entries are contiguous up to `last`.
    first: u64,
    /// Seq of the newest message ever appended (kept when retention empties the log).
    last: u64,
    entries: VecDeque<Bytes>,
    bytes: usize,
}

#[derive(Default)]
struct Directory {
    users: HashSet<i64>,
    accounts: HashMap<i64, Account>,
    by_mobile: HashMap<String, i64>,
    friends: HashMap<i64, BTreeSet<i64>>,
    cursors: HashMap<i64, Cursor>,
    next_uid: i64,
    groups: HashMap<i64, (Group, BTreeSet<i64>)>,
    memberships: HashMap<i64, BTreeSet<i64>>,
    next_gid: i64,
}

/// Users, groups and logs held in process memory.
pub struct MemoryStore {
    logs: Vec<Mutex<HashMap<LogKey, Log>>>,
    dir: Mutex<Directory>,
    /// Messages kept per log; older ones are dropped first.
    retain: usize,
    /// Bytes kept per log (the newest message is always kept).
    retain_bytes: usize,
}

impl Default for MemoryStore {
    /// 1,000 messages and 4 MiB per log: a bound on what one busy inbox can pin.
    fn default() -> Self {
        Self::new(1_000, 4 << 20)
    }
}

impl MemoryStore {
    /// A store keeping at most `retain` messages and `retain_bytes` bytes per inbox or group log.
    pub fn new(retain: usize, retain_bytes: usize) -> Self {
        Self {
            logs: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            dir: Mutex::new(Directory {
                next_gid: 1,
                next_uid: FIRST_UID,
                ..Default::default()
            }),
            retain: retain.max(1),
            retain_bytes,
        }
    }

    fn shard(&self, log: LogKey) -> &Mutex<HashMap<LogKey, Log>> {
        let k = match log {
            LogKey::Inbox(u) => u as u64,
            LogKey::Group(g) => (g as u64).rotate_left(32) ^ 0x5555,
        };
        &self.logs[(k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS]
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store for MemoryStore {
    fn ensure_user(&self, uid: i64) -> Result<(), StoreError> {
        lock(&self.dir).users.insert(uid);
        Ok(())
    }

    fn user_exists(&self, uid: i64) -> Result<bool, StoreError> {
        Ok(lock(&self.dir).users.contains(&uid))
    }

    fn last_seq(&self, log: LogKey) -> Result<u64, StoreError> {
        Ok(lock(self.shard(log)).get(&log).map_or(0, |l| l.last))
    }

    fn append(
        &self,
        log: LogKey,
        seq: u64,
        frame: Bytes,
        _ticket: Ticket,
    ) -> Result<Appended, StoreError> {
        let mut logs = lock(self.shard(log));
        let l = logs.entry(log).or_default();
        if seq != l.last + 1 {
            return Err(StoreError::Unavailable(format!(
                "{log:?}: append seq {seq} after {}",
                l.last
            )));
        }
        if l.entries.is_empty() {
            l.first = seq;
        }
        l.last = seq;
        l.bytes += frame.len();
        l.entries.push_back(frame);
        while l.entries.len() > self.retain || (l.bytes > self.retain_bytes && l.entries.len() > 1)
        {
            let old = l.entries.pop_front().expect("not empty");
            l.bytes -= old.len();
            l.first += 1;
        }
        Ok(Appended::Durable)
    }

    fn read(&self, log: LogKey, after: u64, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let logs = lock(self.shard(log));
        let Some(l) = logs.get(&log) else {
            return Ok(Vec::new());
        };
        let start = after.saturating_add(1).max(l.first);
        let skip = (start - l.first) as usize;
        Ok(l.entries
            .iter()
            .skip(skip)
            .take(limit)
            .enumerate()
            .map(|(i, f)| Stored {
                seq: start + i as u64,
                frame: f.clone(),
            })
            .collect())
    }

    fn register(
        &self,
        mobile: &str,
        password_hash: &str,
        nickname: &str,
    ) -> Result<Account, StoreError> {
        let mut d = lock(&self.dir);
        if d.by_mobile.contains_key(mobile) {
            return Err(StoreError::MobileTaken);
        }
        while d.users.contains(&d.next_uid) {
            d.next_uid += 1;
        }
        let uid = d.next_uid;
        d.next_uid += 1;
        let account = Account {
            uid,
            mobile: mobile.to_owned(),
            password_hash: password_hash.to_owned(),
            nickname: nickname.to_owned(),
        };
        d.users.insert(uid);
        d.by_mobile.insert(mobile.to_owned(), uid);
        d.accounts.insert(uid, account.clone());
        Ok(account)
    }

    fn account_by_mobile(&self, mobile: &str) -> Result<Option<Account>, StoreError> {
        let d = lock(&self.dir);
        Ok(d.by_mobile
            .get(mobile)
            .and_then(|uid| d.accounts.get(uid))
            .cloned())
    }

    fn nickname(&self, uid: i64) -> Result<Option<String>, StoreError> {
        let d = lock(&self.dir);
        if !d.users.contains(&uid) {
            return Ok(None);
        }
        Ok(Some(
            d.accounts
                .get(&uid)
                .map(|a| a.nickname.clone())
                .unwrap_or_default(),
        ))
    }

    fn add_friend(&self, a: i64, b: i64) -> Result<(), StoreError> {
        let mut d = lock(&self.dir);
        for u in [a, b] {
            if !d.users.contains(&u) {
                return Err(StoreError::NoSuchUser(u));
            }
        }
        d.friends.entry(a).or_default().insert(b);
        d.friends.entry(b).or_default().insert(a);
        Ok(())
    }

    fn friends(&self, uid: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let d = lock(&self.dir);
        Ok(d.friends
            .get(&uid)
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    *f,
                    d.accounts
                        .get(f)
                        .map(|a| a.nickname.clone())
                        .unwrap_or_default(),
                )
            })
            .collect())
    }

    fn cursor(&self, uid: i64) -> Result<Option<Cursor>, StoreError> {
        Ok(lock(&self.dir).cursors.get(&uid).cloned())
    }

    fn set_cursor(&self, uid: i64, cursor: &Cursor) -> Result<(), StoreError> {
        lock(&self.dir).cursors.insert(uid, cursor.clone());
        Ok(())
    }

    fn create_group(
        &self,
        owner: i64,
        name: &str,
        icon: &str,
        memo: &str,
    ) -> Result<Group, StoreError> {
        let mut d = lock(&self.dir);
        let id = d.next_gid;
        d.next_gid += 1;
        let g = Group {
            id,
            name: name.to_owned(),
            owner,
            icon: icon.to_owned(),
            memo: memo.to_owned(),
        };
        d.groups.insert(id, (g.clone(), BTreeSet::from([owner])));
        d.memberships.entry(owner).or_default().insert(id);
        Ok(g)
    }

    fn join_group(&self, gid: i64, uid: i64) -> Result<(), StoreError> {
        let mut d = lock(&self.dir);
        let (_, members) = d.groups.get_mut(&gid).ok_or(StoreError::NoSuchGroup(gid))?;
        members.insert(uid);
        d.memberships.entry(uid).or_default().insert(gid);
        Ok(())
    }

    fn leave_group(&self, gid: i64, uid: i64) -> Result<(), StoreError> {
        let mut d = lock(&self.dir);
        let (_, members) = d.groups.get_mut(&gid).ok_or(StoreError::NoSuchGroup(gid))?;
        members.remove(&uid);
        if let Some(m) = d.memberships.get_mut(&uid) {
            m.remove(&gid);
        }
        Ok(())
    }

    fn group_exists(&self, gid: i64) -> Result<bool, StoreError> {
        Ok(lock(&self.dir).groups.contains_key(&gid))
    }

    fn is_member(&self, gid: i64, uid: i64) -> Result<bool, StoreError> {
        Ok(lock(&self.dir)
            .groups
            .get(&gid)
            .is_some_and(|(_, m)| m.contains(&uid)))
    }

    fn user_groups(&self, uid: i64) -> Result<Vec<Group>, StoreError> {
        let d = lock(&self.dir);
        Ok(d.memberships
            .get(&uid)
            .into_iter()
            .flatten()
            .filter_map(|gid| d.groups.get(gid).map(|(g, _)| g.clone()))
            .collect())
    }

    fn member_count(&self, gid: i64) -> Result<Option<u64>, StoreError> {
        Ok(lock(&self.dir)
            .groups
            .get(&gid)
            .map(|(_, m)| m.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conforms() {
        super::super::conformance::run_all(&|| {
            Box::new(MemoryStore::new(super::super::conformance::RETAIN, 1 << 20))
        });
    }

    #[test]
    fn retention_by_bytes_keeps_the_newest() {
        let s = MemoryStore::new(100, 5);
        let log = LogKey::Inbox(1);
        let t = Ticket { core: 0, id: 0 };
        let f = |s: &'static str| Bytes::from_static(s.as_bytes());
        s.append(log, 1, f("abc"), t).unwrap();
        s.append(log, 2, f("def"), t).unwrap();
        assert_eq!(
            s.read(log, 0, 10).unwrap(),
            vec![Stored {
                seq: 2,
                frame: f("def")
            }]
        );
        s.append(log, 3, f("too long for the cap"), t).unwrap();
        assert_eq!(s.read(log, 0, 10).unwrap()[0].seq, 3);
    }
}
