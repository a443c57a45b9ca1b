//! A core's positive caches of store facts, so the common message path asks
//! the store nothing: users known (users are never deleted: kept for good),
//! groups that exist (groups are never deleted: kept for good) and group
//! memberships (kept for [`MEMBER_TTL_MS`]).
//!
//! The membership rule: a "member" answer is cached on the core that owns
//! the group and trusted for [`MEMBER_TTL_MS`]. A leave made through this
//! node's API removes the entry at once (the user's core forwards it to the
//! group's core before the API answers), so on one node a user who left is
//! refused from the next message on. A leave made on another node of a
//! cluster is seen here only when the entry expires: for at most
//! [`MEMBER_TTL_MS`] that user may still post to the group through this
//! node. Negative answers are never cached (a join must count at once).

use crate::fasthash::{FastMap, FastSet};

/// How long a cached membership is trusted (core clock, ms).
pub const MEMBER_TTL_MS: u64 = 5_000;

/// Memberships cached at most; at the bound the expired ones are dropped,
/// and if none had expired, all of them (they are only a cache).
const MAX_MEMBERS: usize = 1 << 16;

/// Positive answers the store gave this core.
#[derive(Default)]
pub struct Known {
    users: FastSet<i64>,
    groups: FastSet<i64>,
    /// (gid, uid) -> core-clock ms until which the answer is trusted.
    members: FastMap<(i64, i64), u64>,
}

impl Known {
    /// Whether `uid` is known to exist.
    pub fn user(&self, uid: i64) -> bool {
        self.users.contains(&uid)
    }

    /// Records that `uid` exists.
    pub fn add_user(&mut self, uid: i64) {
        self.users.insert(uid);
    }

    /// Whether group `gid` is known to exist.
    pub fn group(&self, gid: i64) -> bool {
        self.groups.contains(&gid)
    }

    /// Records that group `gid` exists.
    pub fn add_group(&mut self, gid: i64) {
        self.groups.insert(gid);
    }

    /// Whether `uid` is a member of `gid` per an answer still trusted at `now_ms`.
    pub fn member(&self, gid: i64, uid: i64, now_ms: u64) -> bool {
        self.members
            .get(&(gid, uid))
            .is_some_and(|&until| until > now_ms)
    }

    /// Records that the store said `uid` is a member of `gid` at `now_ms`.
    pub fn add_member(&mut self, gid: i64, uid: i64, now_ms: u64) {
        if self.members.len() >= MAX_MEMBERS {
            self.members.retain(|_, &mut until| until > now_ms);
            if self.members.len() >= MAX_MEMBERS {
                self.members.clear();
            }
        }
        self.members.insert((gid, uid), now_ms + MEMBER_TTL_MS);
    }

    /// Forgets `uid`'s membership of `gid` (it left).
    pub fn forget_member(&mut self, gid: i64, uid: i64) {
        self.members.remove(&(gid, uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_is_trusted_until_it_expires_or_is_forgotten() {
        let mut k = Known::default();
        assert!(!k.member(7, 1, 0));
        k.add_member(7, 1, 1_000);
        assert!(k.member(7, 1, 1_000 + MEMBER_TTL_MS - 1));
        assert!(!k.member(7, 1, 1_000 + MEMBER_TTL_MS));
        assert!(!k.member(7, 2, 1_000), "per user");
        k.forget_member(7, 1);
        assert!(!k.member(7, 1, 1_001));
    }

    #[test]
    fn users_and_groups_stay_known() {
        let mut k = Known::default();
        assert!(!k.user(3) && !k.group(3));
        k.add_user(3);
        k.add_group(4);
        assert!(k.user(3) && k.group(4) && !k.group(3));
    }

    #[test]
    fn a_full_cache_drops_expired_answers_first() {
        let mut k = Known::default();
        for uid in 0..MAX_MEMBERS as i64 {
            k.add_member(1, uid, 0);
        }
        k.add_member(2, 0, MEMBER_TTL_MS);
        assert_eq!(k.members.len(), 1, "every old answer had expired");
        assert!(k.member(2, 0, MEMBER_TTL_MS));
    }
}
