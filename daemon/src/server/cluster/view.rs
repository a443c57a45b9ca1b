//! The live view of the ring, shared by every core: which nodes are up, and
//! the owner of a user under that view.
//!
//! The cluster task writes it when a peer comes up or goes down; any core
//! reads it per message with relaxed loads (a stale answer for a moment
//! after a change costs one message a detour or a sync, never a loss).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::cluster::wire::NodeId;
use crate::cluster::Ring;

/// Where a user's messages go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This node owns the user.
    Local,
    /// Another node, by id.
    Node(NodeId),
    /// No node is up on the user's 21 ring points (nginx would fall back to
    /// round robin): keep it here.
    Nobody,
}

/// The ring and the up flag of every node, in configuration order.
#[derive(Debug)]
pub struct View {
    ring: Ring,
    ids: Vec<NodeId>,
    me: usize,
    up: Vec<AtomicBool>,
    /// Set once every peer has had the time to be heard (see [`View::settled`]).
    settled: AtomicBool,
}

impl View {
    /// A view of `ring` whose node `i` has id `ids[i]`; this node is
    /// `ids[me]`, always up to itself; every other node starts down.
    pub fn new(ring: Ring, ids: Vec<NodeId>, me: usize) -> View {
        assert_eq!(ring.servers().len(), ids.len(), "one id per server");
        let up = (0..ids.len()).map(|i| AtomicBool::new(i == me)).collect();
        View {
            ring,
            ids,
            me,
            up,
            settled: AtomicBool::new(false),
        }
    }

    /// Whether this node has been up long enough to have heard every live
    /// peer: until then "down" only means "not heard yet", and a peer's
    /// users are not taken over.
    pub fn settled(&self) -> bool {
        self.settled.load(Relaxed)
    }

    /// Marks the start-up silence over (see [`View::settled`]).
    pub fn settle(&self) {
        self.settled.store(true, Relaxed);
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.ids[self.me]
    }

    /// Every node's id, in configuration order.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Sets whether node `id` is up; this node stays up.
    pub fn set_up(&self, id: NodeId, up: bool) {
        if let Some(i) = self.ids.iter().position(|&n| n == id) {
            if i != self.me {
                self.up[i].store(up, Relaxed);
            }
        }
    }

    /// Whether node `id` is up (unknown ids are not).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.ids
            .iter()
            .position(|&n| n == id)
            .is_some_and(|i| self.up[i].load(Relaxed))
    }

    /// The owner of `uid` under the current view: nginx's pick, walking past
    /// nodes marked `down` in the config and nodes heard down.
    pub fn owner_of(&self, uid: i64) -> Owner {
        let mut text = itoa::Buffer::new();
        let key = text.format(uid).as_bytes();
        match self.ring.owner_with(key, |i| self.up[i].load(Relaxed)) {
            Some(i) if i == self.me => Owner::Local,
            Some(i) => Owner::Node(self.ids[i]),
            None => Owner::Nobody,
        }
    }

    /// The node that owns `uid` by the configuration alone (nginx's pick
    /// walking past `down` servers only), whatever this node hears: the
    /// node that keeps the user's inbox sequence.
    pub fn home_of(&self, uid: i64) -> Owner {
        let mut text = itoa::Buffer::new();
        let key = text.format(uid).as_bytes();
        match self.ring.owner_with(key, |_| true) {
            Some(i) if i == self.me => Owner::Local,
            Some(i) => Owner::Node(self.ids[i]),
            None => Owner::Nobody,
        }
    }

    /// How many of the uids `1..=n` each node owns under the current view,
    /// in configuration order (for `/metrics`: a ring change shows there).
    pub fn shares(&self, n: i64) -> Vec<u64> {
        let mut counts = vec![0u64; self.ids.len()];
        for uid in 1..=n {
            let index = match self.owner_of(uid) {
                Owner::Local => Some(self.me),
                Owner::Node(id) => self.ids.iter().position(|&x| x == id),
                Owner::Nobody => None,
            };
            if let Some(i) = index {
                counts[i] += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        let ring = Ring::parse(&["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]).unwrap();
        View::new(ring, vec![1, 2, 3], 0)
    }

    #[test]
    fn alone_this_node_owns_everyone() {
        let v = view();
        assert!((1..500).all(|u| v.owner_of(u) == Owner::Local));
        assert_eq!(v.shares(500), vec![500, 0, 0]);
    }

    #[test]
    fn with_every_node_up_the_owner_is_nginx_s() {
        let v = view();
        v.set_up(2, true);
        v.set_up(3, true);
        let ring = Ring::parse(&["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]).unwrap();
        for uid in 1..2_000i64 {
            let want = match ring.owner_of_uid(uid as u64).unwrap() {
                0 => Owner::Local,
                i => Owner::Node(i as NodeId + 1),
            };
            assert_eq!(v.owner_of(uid), want, "uid {uid}");
        }
        let s = v.shares(3_000);
        assert!(s.iter().all(|&c| c > 500), "{s:?}");
    }

    #[test]
    fn a_node_going_down_hands_its_users_to_the_next_and_only_them() {
        let v = view();
        v.set_up(2, true);
        v.set_up(3, true);
        let before: Vec<Owner> = (1..2_000).map(|u| v.owner_of(u)).collect();
        v.set_up(3, false);
        assert!(!v.is_up(3) && v.is_up(2) && v.is_up(1));
        for (uid, was) in (1..2_000).zip(before) {
            let now = v.owner_of(uid);
            if was == Owner::Node(3) {
                assert_ne!(now, Owner::Node(3));
            } else {
                assert_eq!(now, was, "uid {uid} moved though its owner is up");
            }
        }
        v.set_up(1, false);
        assert!(v.is_up(1), "this node stays up to itself");
    }
}
