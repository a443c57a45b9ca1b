//! Which peers are up, judged from when each was last heard, sans-IO.
//!
//! A peer is up from its first authentic datagram (any kind: data proves
//! life as well as a heartbeat does) until nothing authentic has come from
//! it for `misses` heartbeat intervals. A peer never heard since this node
//! started counts as down, so a node alone does not send users' messages
//! into the void; a restarted cluster converges within one interval.

use crate::cluster::wire::NodeId;

/// A peer's state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The peer.
    pub peer: NodeId,
    /// Up now (else down now).
    pub up: bool,
}

#[derive(Clone, Copy, Debug)]
struct Peer {
    id: NodeId,
    last_heard: u64,
    up: bool,
}

/// The liveness of every peer.
#[derive(Debug)]
pub struct Liveness {
    peers: Vec<Peer>,
    silence_ms: u64,
}

impl Liveness {
    /// All `peers` down; a peer silent for `misses × interval_ms` goes down.
    pub fn new(peers: impl IntoIterator<Item = NodeId>, interval_ms: u64, misses: u32) -> Self {
        Liveness {
            peers: peers
                .into_iter()
                .map(|id| Peer {
                    id,
                    last_heard: 0,
                    up: false,
                })
                .collect(),
            silence_ms: interval_ms.saturating_mul(u64::from(misses)),
        }
    }

    /// Records an authentic datagram from `peer` at `now` (milliseconds);
    /// returns the change if it was down.
    pub fn heard(&mut self, peer: NodeId, now: u64) -> Option<Change> {
        let p = self.peers.iter_mut().find(|p| p.id == peer)?;
        p.last_heard = now;
        if p.up {
            return None;
        }
        p.up = true;
        Some(Change { peer, up: true })
    }

    /// Marks down every up peer silent for longer than the limit at `now`,
    /// appending the changes to `changes`.
    pub fn tick(&mut self, now: u64, changes: &mut Vec<Change>) {
        for p in &mut self.peers {
            if p.up && now.saturating_sub(p.last_heard) > self.silence_ms {
                p.up = false;
                changes.push(Change {
                    peer: p.id,
                    up: false,
                });
            }
        }
    }

    /// The peers that are up, in configuration order.
    pub fn up_peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.peers.iter().filter(|p| p.up).map(|p| p.id)
    }

    /// Every peer, up or not.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.peers.iter().map(|p| p.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Liveness {
        fn is_up(&self, peer: NodeId) -> bool {
            self.up_peers().any(|p| p == peer)
        }
    }

    #[test]
    fn unheard_peers_are_down_until_heard() {
        let mut l = Liveness::new([2, 3], 500, 3);
        assert!(!l.is_up(2) && !l.is_up(3));
        assert_eq!(l.heard(2, 10), Some(Change { peer: 2, up: true }));
        assert_eq!(l.heard(2, 20), None);
        assert_eq!(l.up_peers().collect::<Vec<_>>(), vec![2]);
        assert_eq!(l.heard(9, 20), None, "an unknown node changes nothing");
    }

    #[test]
    fn down_after_the_configured_silence_not_before() {
        let mut l = Liveness::new([2], 500, 3);
        l.heard(2, 1_000);
        let mut changes = Vec::new();
        l.tick(2_500, &mut changes);
        assert!(
            changes.is_empty() && l.is_up(2),
            "exactly 3 intervals is not yet down"
        );
        l.tick(2_501, &mut changes);
        assert_eq!(changes, vec![Change { peer: 2, up: false }]);
        l.tick(9_000, &mut changes);
        assert_eq!(changes.len(), 1, "a down peer is reported once");
        assert_eq!(l.heard(2, 9_001), Some(Change { peer: 2, up: true }));
    }

    #[test]
    fn a_datagram_before_the_limit_keeps_a_peer_up() {
        let mut l = Liveness::new([2, 3], 100, 2);
        let mut changes = Vec::new();
        l.heard(2, 0);
        l.heard(3, 0);
        for now in (50..=1_000).step_by(50) {
            l.heard(2, now);
            l.tick(now, &mut changes);
        }
        assert_eq!(changes, vec![Change { peer: 3, up: false }]);
        assert!(l.is_up(2));
    }
}
