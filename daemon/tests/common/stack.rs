//! Three real imedge nodes sharing one real redis-server, behind the real
//! nginx (the shipped config, see [`super::nginx`]), talking over UDP on
//! loopback, optionally through [`Relay`]s. Every process is killed and
//! every directory removed when the [`Stack`] is dropped, panics included.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use imedge::cluster::Ring;

use super::cluster::{eventually, free_udp, CLUSTER_SECRET};
use super::nginx::{free_tcp, shipped_conf, Nginx};
use super::relay::Relay;
use super::{adopt, temp_path, Client, Daemon, SECRET};

// tests/redis.rs includes it too, beside `common`: two copies, no harm.
#[allow(clippy::duplicate_mod)]
#[path = "../../src/store/redis/test_server.rs"]
mod test_server;
pub use test_server::RedisServer;

/// Nodes in a stack: the three of nginx/imedge.conf.
pub const NODES: usize = 3;
/// Heartbeat interval of the stack's nodes.
pub const HEARTBEAT_MS: u64 = 100;
/// Silent heartbeats before a peer is down: 1 s, so a loaded two-core
/// machine does not see a live peer flap down.
pub const MISSES: u32 = 10;

/// How a stack is built.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Put a [`Relay`] in front of every node's UDP port.
    pub relays: bool,
    /// With relays: each drops every this-many-th datagram it receives.
    pub drop_every: Option<u64>,
}

/// The running stack.
pub struct Stack {
    /// nginx, where every client connects.
    pub nginx: Nginx,
    /// Node `i + 1` at index `i`; `None` once killed.
    nodes: Vec<Option<Daemon>>,
    /// With [`Options::relays`], node `i + 1`'s relay at index `i`.
    pub relays: Vec<Relay>,
    /// Each node's real UDP socket address.
    pub udp: Vec<SocketAddr>,
    /// The nodes' nginx `server` strings, in order.
    pub servers: Vec<String>,
    /// The ring of `servers`: nginx's and every node's.
    pub ring: Ring,
    /// The shared store.
    pub redis: RedisServer,
    dir: PathBuf,
}

impl Stack {
    /// Starts redis-server, the three nodes (waiting until each sees the
    /// other two up) and nginx.
    pub fn start(opts: Options) -> Stack {
        let dir = temp_path("stack");
        std::fs::create_dir_all(&dir).unwrap();
        let redis = RedisServer::start("stack");
        let servers: Vec<String> = (0..NODES)
            .map(|_| format!("127.0.0.1:{}", free_tcp()))
            .collect();
        let udp = free_udp(NODES);
        let relays: Vec<Relay> = if opts.relays {
            udp.iter()
                .map(|&a| Relay::start(a, opts.drop_every))
                .collect()
        } else {
            Vec::new()
        };
        let advertised: Vec<SocketAddr> = if opts.relays {
            relays.iter().map(|r| r.addr).collect()
        } else {
            udp.clone()
        };
        let nodes = (0..NODES)
            .map(|i| {
                let bind = opts.relays.then_some(udp[i]);
                let config = node_config(&dir, i + 1, &servers, &advertised, bind);
                Some(spawn_node(&dir, i + 1, &config, &servers[i], &redis))
            })
            .collect();
        let nginx_port = free_tcp();
        let conf = shipped_conf(&dir.join("nginx"), nginx_port, &servers);
        let nginx = Nginx::start(&dir.join("nginx"), nginx_port, &conf);
        let stack = Stack {
            nginx,
            nodes,
            relays,
            udp,
            ring: Ring::parse(&servers).unwrap(),
            servers,
            redis,
            dir,
        };
        for id in 1..=NODES {
            assert!(
                eventually(|| (1..=NODES).all(|peer| stack.up(id, peer) == 1.0)),
                "node {id} never saw every node up:\n{}",
                stack.node(id).get("/metrics").1
            );
        }
        stack
    }

    /// Node `id` (1-based); panics once it was killed.
    pub fn node(&self, id: usize) -> &Daemon {
        self.nodes[id - 1]
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} was killed"))
    }

    /// The nodes still running, with their ids.
    pub fn live(&self) -> impl Iterator<Item = (usize, &Daemon)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (i + 1, d)))
    }

    /// SIGKILLs node `id`: no goodbye to its peers or its clients.
    pub fn kill(&mut self, id: usize) {
        let mut d = self.nodes[id - 1].take().expect("node already killed");
        d.child.kill().unwrap();
        d.child.wait().unwrap();
    }

    /// Whether node `id` sees node `peer` up (1.0) or down (0.0).
    pub fn up(&self, id: usize, peer: usize) -> f64 {
        self.node(id)
            .metric(&format!("imedge_cluster_peer_up{{node=\"{peer}\"}} "))
    }

    /// A counter without labels, summed over the running nodes.
    pub fn total(&self, name: &str) -> f64 {
        self.live()
            .map(|(_, d)| d.metric(&format!("{name} ")))
            .sum()
    }

    /// The first `n` uids from `from` up that nginx sends to node `id`.
    pub fn owned_by(&self, id: usize, n: usize, from: u64) -> Vec<i64> {
        (from..)
            .filter(|&uid| self.ring.owner_of_uid(uid) == Some(id - 1))
            .take(n)
            .map(|uid| uid as i64)
            .collect()
    }

    /// The node (1-based) nginx sends `uid` to while every node is up.
    pub fn owner(&self, uid: i64) -> usize {
        self.ring.owner_of_uid(uid as u64).unwrap() + 1
    }

    /// Connects `uid` through nginx.
    pub async fn connect(&self, uid: i64) -> Client {
        self.nginx.connect(uid).await
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The nodes first, so none is left running if the rest panics;
        // nginx, the relays and redis-server go with their fields.
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes node `id`'s config: the cluster as its peers reach it
/// (`advertised`), and its own socket at `bind` when that differs.
fn node_config(
    dir: &Path,
    id: usize,
    servers: &[String],
    advertised: &[SocketAddr],
    bind: Option<SocketAddr>,
) -> PathBuf {
    let mut text = format!(
        "[cluster]\nsecret = \"{CLUSTER_SECRET}\"\nheartbeat_ms = {HEARTBEAT_MS}\n\
         heartbeat_misses = {MISSES}\nflush_delay_us = 0\n"
    );
    if let Some(bind) = bind {
        text += &format!("udp_bind = \"{bind}\"\n");
    }
    for (i, (server, udp)) in servers.iter().zip(advertised).enumerate() {
        text += &format!(
            "\n[[cluster.nodes]]\nid = {}\nserver = \"{server}\"\nudp = \"{udp}\"\n",
            i + 1
        );
    }
    let path = dir.join(format!("node-{id}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts node `id` on `server` (its nginx address) with the shared store.
fn spawn_node(dir: &Path, id: usize, config: &Path, server: &str, redis: &RedisServer) -> Daemon {
    let data_dir = dir.join(format!("node-{id}"));
    let child = Command::new(env!("CARGO_BIN_EXE_imedge"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(["--node-id", &id.to_string(), "--listen", server])
        .args(["--secret", SECRET, "--log", "warn", "--threads", "2"])
        .args(["--store", &redis.url(0)])
        // The tests pace themselves; the per-connection limit is not theirs.
        .args(["--rate-limit", "100000", "--rate-burst", "100000"])
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start imedge");
    adopt(child, data_dir)
}
