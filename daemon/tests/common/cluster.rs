//! Several real nodes on loopback with a generated cluster config.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{start, Daemon};

/// The cluster secret every test node runs with.
pub const CLUSTER_SECRET: &str = "cluster-secret-for-tests-0123";
/// Heartbeat interval the nodes run with: a peer is down after 3 × 100 ms.
pub const HEARTBEAT_MS: u64 = 100;
/// How long any expected change may take (many heartbeats, a loaded machine).
pub const LIMIT: Duration = Duration::from_secs(15);

/// `n` UDP ports free on loopback right now.
pub fn free_udp(n: usize) -> Vec<SocketAddr> {
    let held: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter().map(|s| s.local_addr().unwrap()).collect()
}

/// The nginx `server` string of node `id` (1-based) in [`cluster_file`].
pub fn server(id: usize) -> String {
    format!("127.0.0.1:{}", 9100 + id)
}

/// A config file for nodes 1..=n with these UDP addresses.
pub fn cluster_file(dir: &Path, udp: &[SocketAddr]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = format!(
        "[cluster]\nsecret = \"{CLUSTER_SECRET}\"\nheartbeat_ms = {HEARTBEAT_MS}\nheartbeat_misses = 3\nflush_delay_us = 0\n"
    );
    for (i, addr) in udp.iter().enumerate() {
        text += &format!(
            "\n[[cluster.nodes]]\nid = {}\nserver = \"{}\"\nudp = \"{addr}\"\n",
            i + 1,
            server(i + 1)
        );
    }
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts node `id` of `config` (memory store, as every test daemon).
pub fn node(config: &Path, id: u16) -> Daemon {
    let id = id.to_string();
    start(&["--config", config.to_str().unwrap(), "--node-id", &id])
}

/// Waits until `cond` holds, at most [`LIMIT`]; false if it never did.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// Whether `d` sees node `node` up (1.0) or down (0.0), from `/metrics`.
pub fn up(d: &Daemon, node: u16) -> f64 {
    d.metric(&format!("imedge_cluster_peer_up{{node=\"{node}\"}} "))
}

/// Starts node `id` of `config` with more flags (another store, say).
pub fn node_with(config: &Path, id: u16, extra: &[&str]) -> Daemon {
    let id = id.to_string();
    let mut args = vec!["--config", config.to_str().unwrap(), "--node-id", &id];
    args.extend_from_slice(extra);
    start(&args)
}

/// The first `n` ids from 1000 up that node `id` (1-based) of the ring of
/// `nodes` servers owns (users and groups are placed alike).
pub fn owned_by(nodes: usize, id: usize, n: usize) -> Vec<i64> {
    let servers: Vec<String> = (1..=nodes).map(server).collect();
    let ring = imedge::cluster::Ring::parse(&servers).unwrap();
    (1000u64..)
        .filter(|&uid| ring.owner_of_uid(uid) == Some(id - 1))
        .take(n)
        .map(|uid| uid as i64)
        .collect()
}

/// The node (1-based) that owns `id` on the ring of `nodes` servers.
pub fn owner(nodes: usize, id: i64) -> usize {
    let servers: Vec<String> = (1..=nodes).map(server).collect();
    let ring = imedge::cluster::Ring::parse(&servers).unwrap();
    ring.owner_of_uid(id as u64).unwrap() + 1
}
