//! The cluster's UDP transport inside the daemon: the socket, heartbeats and
//! the live view of the ring, NACK repair, and the counters in `/metrics`.
//! The protocol itself is [`crate::cluster::wire`] (sans-IO); [`Engine`]
//! drives it, and [`task`] does the I/O.
//!
//! # One socket, owned by the first core
//!
//! The node has one UDP socket and one [`Engine`], run as a task on core
//! 0's runtime; any core hands it items through [`Cluster::send`] (a flume
//! channel, drained in batches), and received frames go to the owning cores
//! through their inboxes. The alternative, a socket per core with
//! SO_REUSEPORT, was rejected: a peer's datagrams carry one sequence per
//! (sender, destination), so either every core would need its own sequence
//! space (a sender id per core, N² replay windows, NACKs per core pair) or
//! the cores would share the outbox under a lock. One owner keeps the
//! sequence, the batching (every core's frames for a peer share datagrams:
//! fewer datagrams per message) and the send history in one place with no
//! lock. Its cost, one channel hop each way, is the same hop a cross-core
//! message already pays; measuring whether one core saturates is for the
//! benchmark.
//!
//! # Time
//!
//! The engine counts in milliseconds, as monoio's timer wheel does (1 ms
//! resolution), so `flush_delay_us` is rounded up to whole milliseconds (0
//! stays 0: every item leaves at once).
//!
//! # Broadcast mode
//!
//! With `broadcast` set, every datagram goes to that address (the seed
//! design's LAN mode); each is still sealed for one destination, so the
//! other nodes drop it as `misdirected` (counted) after checking its MAC.
//! Bind to `0.0.0.0:port` (`udp_bind`) to receive broadcasts.

mod engine;
mod inbound;
mod liveness;
mod socket;
mod stats;
mod task;
mod transport;
mod view;

use std::sync::Arc;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use crate::cluster::wire::{Item, Key, NodeId, Settings};
use crate::config::{ClusterConfig, Config};

pub use engine::{Engine, Inbound, Timing};
pub use stats::Stats;
pub use task::{run, Outgoing, Task};
pub use view::{Owner, View};

/// The node's handle on the cluster, shared by every core.
#[derive(Debug)]
pub struct Cluster {
    view: Arc<View>,
    stats: Arc<Stats>,
    tx: flume::Sender<Outgoing>,
    /// Every node uses the same store (Redis): a down node's logs can be
    /// numbered by the next one.
    shared_store: bool,
}

impl Cluster {
    /// The node that numbers the log of user or group `id` (both are
    /// placed on the ring by their decimal id, as nginx places users).
    ///
    /// With a shared store, the live owner: when a node is down, the next
    /// one on the ring takes its users and groups over, continuing their
    /// sequences from the store (two nodes that briefly both claim a log
    /// never store one seq twice: the store takes only the next seq, and
    /// shows nothing before it is stored; see
    /// [`crate::store::Store::shows_after_commit`]).
    /// Until the view has settled after start-up, and always when each
    /// node has its own store, the owner by configuration: numbering
    /// anywhere else would fork the sequence.
    pub fn keeper_of(&self, id: i64) -> Owner {
        if self.shared_store && self.view.settled() {
            self.view.owner_of(id)
        } else {
            self.view.home_of(id)
        }
    }

    /// Whether items may be sent to node `node` now: it is up, or not
    /// judged yet (start-up).
    pub fn reachable(&self, node: NodeId) -> bool {
        self.view.is_up(node) || !self.view.settled()
    }

    /// Where user `uid`'s messages go under the current live view.
    pub fn owner_of(&self, uid: i64) -> Owner {
        self.view.owner_of(uid)
    }

    /// The node that keeps user `uid`'s inbox, by the configuration (see
    /// [`View::home_of`]).
    pub fn home_of(&self, uid: i64) -> Owner {
        self.view.home_of(uid)
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.view.me()
    }

    /// Queues `item` for node `node`; callable from any core. Batched with
    /// the node's other items and sent within the flush delay.
    pub fn send(&self, node: NodeId, item: Item) {
        // Closed only when the cluster task has stopped (logged there).
        let _ = self.tx.send(Outgoing { peer: node, item });
    }

    /// The live view of the ring.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Appends the cluster section of `/metrics`.
    pub fn render(&self, out: &mut String) {
        self.stats.render(&self.view, out);
    }
}

/// Binds the cluster socket and builds the engine when `config` has a
/// `[cluster]` section: the handle for the cores and the task for core 0.
pub fn start(config: &Config) -> anyhow::Result<Option<(Arc<Cluster>, Task)>> {
    let Some(cc) = &config.cluster else {
        return Ok(None);
    };
    let secret = config
        .cluster_secret()?
        .context("a [cluster] section always has a secret")?;
    let key = Key::new(&secret).context("cluster secret")?;
    let me_id = cc.node_id.context("node_id is validated")?;
    let me = cc.index_of(me_id).context("node_id is validated")?;
    let ids: Vec<NodeId> = cc.nodes.iter().map(|n| NodeId::from(n.id)).collect();
    let view = Arc::new(View::new(cc.ring()?, ids.clone(), me));
    let stats = Arc::new(Stats::new(&ids));
    let settings = settings(cc, config.max_message_bytes);
    let incarnation = (crate::server::shared::unix_ms() as u64).max(1);
    let timing = Timing {
        heartbeat_ms: cc.heartbeat_ms,
        misses: cc.heartbeat_misses,
    };
    let engine = Engine::new(
        key,
        settings,
        incarnation,
        digest(cc),
        timing,
        view.clone(),
        stats.clone(),
    )?;
    let bind = cc.bind_address().context("node_id is validated")?;
    let socket = socket::bind(bind, cc.broadcast.is_some())
        .with_context(|| format!("cannot bind the cluster socket on {bind}"))?;
    let peers = cc
        .nodes
        .iter()
        .filter(|n| n.id != me_id)
        .map(|n| (NodeId::from(n.id), n.udp));
    let transport = Transport::new(
        &socket,
        peers,
        cc.broadcast,
        cc.datagram_bytes,
        stats.clone(),
    );
    let (tx, rx) = flume::unbounded();
    tracing::info!(node = me_id, %bind, incarnation, "cluster socket bound");
    let shared_store = config.store.starts_with("redis");
    if !shared_store {
        tracing::warn!(
            store = %config.store,
            "cluster with a store per node: accounts, groups and logs are each node's own \
             (rooms need their group on the node keeping it; a down node's users get 503); \
             share one with --store redis://..."
        );
    }
    let cluster = Arc::new(Cluster {
        view,
        stats,
        tx,
        shared_store,
    });
    let task = Task {
        socket,
        rx,
        engine,
        transport,
        heartbeat_ms: cc.heartbeat_ms,
    };
    Ok(Some((cluster, task)))
}

use transport::Transport;

/// The datagram layer's settings from the `[cluster]` section.
fn settings(cc: &ClusterConfig, max_message_bytes: usize) -> Settings {
    let defaults = Settings::default();
    // A WebSocket frame header is at most 14 bytes.
    let max_message = max_message_bytes + 14;
    Settings {
        max_datagram: cc.datagram_bytes,
        max_delay_ms: cc.flush_delay_us.div_ceil(1_000),
        max_message,
        max_pending: defaults.max_pending.max(4 * max_message),
        ..defaults
    }
}

/// A digest of what every node must agree on: ids, server strings and UDP
/// addresses in order. Heartbeats carry it; a mismatch is counted.
fn digest(cc: &ClusterConfig) -> u64 {
    let mut h = Sha256::new();
    for n in &cc.nodes {
        h.update(format!("{}\t{}\t{}\n", n.id, n.server, n.udp));
    }
    let full = h.finalize();
    u64::from_be_bytes(full[..8].try_into().expect("32-byte digest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(toml: &str) -> Config {
        let c = Config::from_toml(toml).unwrap();
        c.validate().unwrap();
        c
    }

    const TWO: &str = r#"
[cluster]
node_id = 1
secret = "cluster-secret-0123456789"
flush_delay_us = 200
[[cluster.nodes]]
id = 1
server = "127.0.0.1:9001"
udp = "127.0.0.1:0"
[[cluster.nodes]]
id = 2
server = "127.0.0.1:9002"
udp = "127.0.0.1:7999"
"#;

    #[test]
    fn settings_round_the_delay_up_to_the_timer_s_millisecond() {
        let c = Config::from_toml(TWO).unwrap();
        let s = settings(c.cluster.as_ref().unwrap(), 1000);
        assert_eq!(
            (s.max_datagram, s.max_delay_ms, s.max_message),
            (1400, 1, 1014)
        );
        s.validate().unwrap();
        let mut cc = c.cluster.clone().unwrap();
        cc.flush_delay_us = 0;
        assert_eq!(settings(&cc, 1000).max_delay_ms, 0);
    }

    #[test]
    fn the_digest_changes_with_any_node_field() {
        let c = Config::from_toml(TWO).unwrap();
        let cc = c.cluster.unwrap();
        let mut other = cc.clone();
        other.nodes[1].server = "127.0.0.1:9002 weight=2".into();
        assert_ne!(digest(&cc), digest(&other));
        let mut same = cc.clone();
        same.node_id = Some(2);
        assert_eq!(digest(&cc), digest(&same), "the node id is per node");
    }

    #[test]
    fn a_single_node_config_starts_nothing() {
        assert!(start(&Config::default()).unwrap().is_none());
    }

    #[test]
    fn start_binds_and_answers_owner_lookups() {
        let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        let toml = TWO.replace("127.0.0.1:0", &addr);
        let (c, _task) = start(&cluster(&toml)).unwrap().unwrap();
        assert_eq!(c.me(), 1);
        assert!(
            (1..100).all(|u| c.owner_of(u) == Owner::Local),
            "peer unheard: down"
        );
        c.view().set_up(2, true);
        assert!((1..100).any(|u| c.owner_of(u) == Owner::Node(2)));
        let mut text = String::new();
        c.render(&mut text);
        assert!(text.contains("imedge_cluster_peer_up{node=\"2\"} 1"));
    }
}
