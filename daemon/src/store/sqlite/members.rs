//! Group members cached in memory, so the two directory questions of every
//! room message (`group_exists`, `is_member`) are a hash lookup instead of
//! two SQLite reads (measured about 3 µs a pair).
//!
//! A group's members are loaded on first use. Consistency: loads and the
//! group writes (create, join, leave) are serialized by one lock held across
//! the database work and the cache update, so a load can never install a
//! member list older than a committed join or leave. Lookups of loaded
//! groups take only the short map lock.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use crate::store::StoreError;

/// Members of the groups asked about so far.
#[derive(Default)]
pub struct Members {
    sets: Mutex<HashMap<i64, HashSet<i64>>>,
    /// Held across a load or a group write (see the module docs).
    writes: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Members {
    /// Whether `gid` exists and, if it does, whether `uid` is a member;
    /// `load` reads the group's members from the database (None: no group).
    pub fn lookup(
        &self,
        gid: i64,
        uid: i64,
        load: impl FnOnce() -> Result<Option<HashSet<i64>>, StoreError>,
    ) -> Result<Option<bool>, StoreError> {
        if let Some(set) = lock(&self.sets).get(&gid) {
            return Ok(Some(set.contains(&uid)));
        }
        let _writes = lock(&self.writes);
        if let Some(set) = lock(&self.sets).get(&gid) {
            return Ok(Some(set.contains(&uid)));
        }
        // Unknown groups are not cached: they cost a read each time.
        let Some(set) = load()? else {
            return Ok(None);
        };
        let member = set.contains(&uid);
        lock(&self.sets).insert(gid, set);
        Ok(Some(member))
    }

    /// Runs a group write `f` (which commits to the database), then applies
    /// its effect to the cache with `apply`, under the write lock.
    pub fn write<T>(
        &self,
        f: impl FnOnce() -> Result<T, StoreError>,
        apply: impl FnOnce(&T, &mut HashMap<i64, HashSet<i64>>),
    ) -> Result<T, StoreError> {
        let _writes = lock(&self.writes);
        let out = f()?;
        apply(&out, &mut lock(&self.sets));
        Ok(out)
    }
}
