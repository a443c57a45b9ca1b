//! The cluster's counters, written by the cluster task and rendered into
//! `/metrics` by any core.
//!
//! "Datagrams per message" is `imedge_cluster_datagrams_out_total` (summed
//! over nodes) over `imedge_cluster_items_out_total`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::cluster::wire::{DropReason, NodeId};

use super::view::View;

/// Uids sampled for `imedge_cluster_ring_share`.
pub const SHARE_SAMPLE: i64 = 1_000;

/// Traffic with one node.
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Datagrams sent to it (resends included).
    pub datagrams_out: AtomicU64,
    /// Their bytes.
    pub bytes_out: AtomicU64,
    /// Authentic datagrams accepted from it.
    pub datagrams_in: AtomicU64,
    /// Their bytes.
    pub bytes_in: AtomicU64,
}

/// Every cluster counter.
#[derive(Debug)]
pub struct Stats {
    peers: Vec<PeerStats>,
    ids: Vec<NodeId>,
    drops: [AtomicU64; DropReason::ALL.len()],
    /// Datagrams received, whatever became of them.
    pub received: AtomicU64,
    /// Items (frames, presence and membership records) queued for peers.
    pub items_out: AtomicU64,
    /// Items received in accepted datagrams (a reassembled frame is one).
    pub items_in: AtomicU64,
    /// NACK ranges sent (on a gap and again on the heartbeat tick).
    pub nacks_sent: AtomicU64,
    /// NACKs received.
    pub nacks_received: AtomicU64,
    /// NACKs received and answered in full from the send history.
    pub nacks_answered: AtomicU64,
    /// Sequence numbers asked for that the history no longer (or never) held.
    pub nacks_unanswered: AtomicU64,
    /// Datagrams resent in answer to NACKs.
    pub resends: AtomicU64,
    /// Sequence numbers lost past the replay window: their messages reach
    /// the recipients by sync.
    pub unrecoverable: AtomicU64,
    /// Datagrams the socket refused, and items the datagram layer refused.
    pub send_errors: AtomicU64,
    /// Heartbeats from a node whose cluster configuration differs.
    pub config_mismatches: AtomicU64,
    /// Peers seen coming up or going down.
    pub view_changes: AtomicU64,
    /// Messages forwarded to the node keeping their log.
    pub forwarded: AtomicU64,
    /// Forwarded messages answered with 503 here: no answer in time.
    pub unanswered: AtomicU64,
    /// Messages other nodes forwarded here, the keeper of their log.
    pub submits_in: AtomicU64,
    /// Messages refused with 503 because the node keeping their log is
    /// down (or no node is up for it).
    pub owner_down: AtomicU64,
}

impl Stats {
    /// Zeroed counters for the nodes `ids`.
    pub fn new(ids: &[NodeId]) -> Stats {
        Stats {
            peers: ids.iter().map(|_| PeerStats::default()).collect(),
            ids: ids.to_vec(),
            drops: Default::default(),
            received: AtomicU64::new(0),
            items_out: AtomicU64::new(0),
            items_in: AtomicU64::new(0),
            nacks_sent: AtomicU64::new(0),
            nacks_received: AtomicU64::new(0),
            nacks_answered: AtomicU64::new(0),
            nacks_unanswered: AtomicU64::new(0),
            resends: AtomicU64::new(0),
            unrecoverable: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            config_mismatches: AtomicU64::new(0),
            view_changes: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            submits_in: AtomicU64::new(0),
            owner_down: AtomicU64::new(0),
        }
    }

    /// Node `id`'s traffic counters, if it is one of the nodes.
    pub fn peer(&self, id: NodeId) -> Option<&PeerStats> {
        let i = self.ids.iter().position(|&n| n == id)?;
        Some(&self.peers[i])
    }

    /// Counts one datagram dropped for `reason`.
    pub fn count_drop(&self, reason: DropReason) {
        let i = DropReason::ALL.iter().position(|&r| r == reason);
        self.drops[i.expect("ALL lists every reason")].fetch_add(1, Relaxed);
    }

    /// Datagrams dropped for `reason` so far.
    pub fn drops(&self, reason: DropReason) -> u64 {
        let i = DropReason::ALL.iter().position(|&r| r == reason);
        self.drops[i.expect("ALL lists every reason")].load(Relaxed)
    }

    /// Appends the cluster section of `/metrics`.
    pub fn render(&self, view: &View, out: &mut String) {
        let me = view.me();
        let _ = writeln!(
            out,
            "# HELP imedge_cluster_node_id This node's id.\n# TYPE imedge_cluster_node_id gauge\nimedge_cluster_node_id {me}"
        );
        head(
            out,
            "imedge_cluster_peer_up",
            "1 while the node is up in this node's view of the ring.",
            "gauge",
        );
        for &id in &self.ids {
            let _ = writeln!(
                out,
                "imedge_cluster_peer_up{{node=\"{id}\"}} {}",
                u8::from(view.is_up(id))
            );
        }
        head(
            out,
            "imedge_cluster_ring_share",
            "Of the uids 1 to 1000, how many each node owns under this node's view.",
            "gauge",
        );
        for (id, n) in self.ids.iter().zip(view.shares(SHARE_SAMPLE)) {
            let _ = writeln!(out, "imedge_cluster_ring_share{{node=\"{id}\"}} {n}");
        }
        let per_peer: [(&str, &str, PeerField); 4] = [
            (
                "imedge_cluster_datagrams_out_total",
                "Datagrams sent to the node, resends included.",
                |p| &p.datagrams_out,
            ),
            (
                "imedge_cluster_bytes_out_total",
                "Bytes of the datagrams sent to the node.",
                |p| &p.bytes_out,
            ),
            (
                "imedge_cluster_datagrams_in_total",
                "Authentic datagrams accepted from the node.",
                |p| &p.datagrams_in,
            ),
            (
                "imedge_cluster_bytes_in_total",
                "Bytes of the datagrams accepted from the node.",
                |p| &p.bytes_in,
            ),
        ];
        for (name, help, get) in per_peer {
            head(out, name, help, "counter");
            for (id, p) in self.ids.iter().zip(&self.peers) {
                if *id != me {
                    let _ = writeln!(out, "{name}{{node=\"{id}\"}} {}", get(p).load(Relaxed));
                }
            }
        }
        head(
            out,
            "imedge_cluster_drops_total",
            "Datagrams dropped, by reason.",
            "counter",
        );
        for (r, n) in DropReason::ALL.iter().zip(&self.drops) {
            let _ = writeln!(
                out,
                "imedge_cluster_drops_total{{reason=\"{}\"}} {}",
                r.label(),
                n.load(Relaxed)
            );
        }
        let totals: [(&str, &str, &AtomicU64); 16] = [
            ("imedge_cluster_received_total", "Datagrams received on the cluster socket, whatever became of them.", &self.received),
            ("imedge_cluster_items_out_total", "Items (frames, presence, membership records) queued for peers.", &self.items_out),
            ("imedge_cluster_items_in_total", "Items received in accepted datagrams.", &self.items_in),
            ("imedge_cluster_nacks_sent_total", "Missing sequence ranges asked for.", &self.nacks_sent),
            ("imedge_cluster_nacks_received_total", "NACKs received.", &self.nacks_received),
            ("imedge_cluster_nacks_answered_total", "NACKs answered in full from the send history.", &self.nacks_answered),
            ("imedge_cluster_nacks_unanswered_total", "Sequence numbers asked for that the history no longer held.", &self.nacks_unanswered),
            ("imedge_cluster_resends_total", "Datagrams resent in answer to NACKs.", &self.resends),
            ("imedge_cluster_unrecoverable_total", "Sequence numbers lost past the replay window (their messages reach users by sync).", &self.unrecoverable),
            ("imedge_cluster_send_errors_total", "Datagrams the socket refused and items the datagram layer refused.", &self.send_errors),
            ("imedge_cluster_config_mismatches_total", "Heartbeats from a node whose cluster configuration differs.", &self.config_mismatches),
            ("imedge_cluster_view_changes_total", "Peers seen coming up or going down.", &self.view_changes),
            ("imedge_cluster_forwarded_total", "Messages (cmd 10 and 11) forwarded to the node keeping their log.", &self.forwarded),
            ("imedge_cluster_unanswered_total", "Forwarded messages refused with 503 here: the keeping node did not answer in time.", &self.unanswered),
            ("imedge_cluster_submits_in_total", "Messages other nodes forwarded to this node, the keeper of their log.", &self.submits_in),
            ("imedge_cluster_owner_down_total", "Messages refused with 503: the node keeping their log is down.", &self.owner_down),
        ];
        for (name, help, n) in totals {
            head(out, name, help, "counter");
            let _ = writeln!(out, "{name} {}", n.load(Relaxed));
        }
    }
}

/// Picks one counter of a [`PeerStats`].
type PeerField = fn(&PeerStats) -> &AtomicU64;

fn head(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Ring;

    #[test]
    fn renders_every_reason_peer_and_total() {
        let ring = Ring::parse(&["127.0.0.1:9001", "127.0.0.1:9002"]).unwrap();
        let view = View::new(ring, vec![1, 2], 0);
        let s = Stats::new(&[1, 2]);
        s.count_drop(DropReason::Mac);
        s.count_drop(DropReason::Mac);
        s.peer(2).unwrap().datagrams_out.fetch_add(5, Relaxed);
        s.resends.fetch_add(1, Relaxed);
        let mut t = String::new();
        s.render(&view, &mut t);
        for line in [
            "imedge_cluster_node_id 1",
            "imedge_cluster_peer_up{node=\"1\"} 1",
            "imedge_cluster_peer_up{node=\"2\"} 0",
            "imedge_cluster_ring_share{node=\"1\"} 1000",
            "imedge_cluster_ring_share{node=\"2\"} 0",
            "imedge_cluster_datagrams_out_total{node=\"2\"} 5",
            "imedge_cluster_drops_total{reason=\"mac\"} 2",
            "imedge_cluster_drops_total{reason=\"replay\"} 0",
            "imedge_cluster_resends_total 1",
        ] {
            assert!(t.lines().any(|l| l == line), "missing `{line}` in\n{t}");
        }
        assert!(
            !t.contains("datagrams_out_total{node=\"1\"}"),
            "no traffic line for itself"
        );
        assert_eq!(s.drops(DropReason::Mac), 2);
    }
}
