//! The `[cluster]` section: which node this is, the other nodes, and how
//! they talk. Absent, the daemon is a single node.
//!
//! Every node can read the same file (only `node_id` differs, and
//! `--node-id` sets it), so the ring, built from the nodes' nginx `server`
//! strings in file order, is the same everywhere and the same as nginx's.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::cluster::Ring;

use super::secret::MIN_SECRET_BYTES;
use super::{Config, ConfigError, Secret};

/// Default `datagram_bytes`: a 1500-byte Ethernet MTU less the IPv6 and UDP
/// headers (48) and room for a tunnel or VLAN, so datagrams never fragment.
pub const DEFAULT_DATAGRAM_BYTES: usize = 1400;
/// Range of `datagram_bytes`: 512 (the smallest payload every IPv4 path
/// must pass) to 65507 (the largest UDP payload over IPv4).
pub const DATAGRAM_BYTES: std::ops::RangeInclusive<usize> = 512..=65_507;
/// Default `flush_delay_us`.
pub const DEFAULT_FLUSH_DELAY_US: u64 = 200;
/// Largest `flush_delay_us` (10 ms): a longer wait is latency users notice.
pub const MAX_FLUSH_DELAY_US: u64 = 10_000;
/// Default `heartbeat_ms`.
pub const DEFAULT_HEARTBEAT_MS: u64 = 500;
/// Range of `heartbeat_ms`: 50 ms (20 datagrams a second per peer) to 60 s.
pub const HEARTBEAT_MS: std::ops::RangeInclusive<u64> = 50..=60_000;
/// Default `heartbeat_misses`.
pub const DEFAULT_HEARTBEAT_MISSES: u32 = 3;
/// Range of `heartbeat_misses`.
pub const HEARTBEAT_MISSES: std::ops::RangeInclusive<u32> = 1..=100;
/// Environment variable holding the cluster secret (as `--cluster-secret`).
pub const CLUSTER_SECRET_ENV: &str = "IMEDGE_CLUSTER_SECRET";

/// The `[cluster]` section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's id: one of `nodes`. `--node-id` overrides it, so every
    /// node can share one file. Required (here or by flag).
    pub node_id: Option<u16>,

    /// Local address of this node's UDP socket.
    /// Default: this node's `udp` (set it to e.g. `0.0.0.0:7946` when the
    /// address the others use belongs to a NAT or a VIP). Cost: none.
    pub udp_bind: Option<SocketAddr>,

    /// Key of the MAC on every datagram between nodes; the same on every
    /// node, at least 16 bytes. Taken from `--cluster-secret` or
    /// `IMEDGE_CLUSTER_SECRET`, then this field, then the file `secret_file`,
    /// then the top-level `secret` when that is set. Default absent.
    pub secret: Option<Secret>,

    /// File holding the cluster secret (surrounding blanks ignored).
    /// Default absent.
    pub secret_file: Option<PathBuf>,

    /// Largest UDP payload a node sends; frames for one peer are batched up
    /// to it. 512 to 65507.
    /// Default 1400 (no fragmentation on a 1500-byte MTU). Cost: one buffer
    /// of this size per peer for the batch being filled.
    #[serde(default = "default_datagram_bytes")]
    pub datagram_bytes: usize,

    /// Longest time a frame waits for others to share its datagram, in
    /// microseconds; 0 sends every frame at once. At most 10000.
    /// Default 200. Cost: this much added latency per cross-node message at
    /// low load, fewer datagrams at high load.
    #[serde(default = "default_flush_delay_us")]
    pub flush_delay_us: u64,

    /// Seed-design mode for small flat LANs: send every datagram once to this
    /// IPv4 broadcast address (e.g. `10.0.1.255:7946`) instead of to the
    /// owner node; every node must then listen on its port.
    /// Default absent: datagrams go to the owner node only. Cost: every node
    /// receives and checks every datagram.
    pub broadcast: Option<SocketAddr>,

    /// Interval between heartbeats to every peer, in milliseconds; 50 to
    /// 60000. The heartbeat tick also NACKs again what is still missing.
    /// Default 500. Cost: one 48-byte-plus datagram per peer per interval.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,

    /// A peer from which nothing authentic arrived for this many heartbeat
    /// intervals is down: the ring walks past it. 1 to 100.
    /// Default 3 (down after 1.5 s of silence at the default interval).
    /// Cost: a lower value reacts faster and flaps on a lossy network.
    #[serde(default = "default_heartbeat_misses")]
    pub heartbeat_misses: u32,

    /// Every node of the cluster, this one included, in nginx.conf order.
    pub nodes: Vec<NodeConfig>,
}

/// One `[[cluster.nodes]]` entry: the node as nginx sees it and as its
/// peers reach it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's id, 1 to 65535, unique; carried in its datagrams.
    pub id: u16,
    /// The node's upstream entry exactly as in nginx.conf after `server`:
    /// the address text (hashed as written) and `weight=N` / `down`.
    pub server: String,
    /// Where the other nodes send this node's datagrams.
    pub udp: SocketAddr,
}

fn default_datagram_bytes() -> usize {
    DEFAULT_DATAGRAM_BYTES
}

fn default_flush_delay_us() -> u64 {
    DEFAULT_FLUSH_DELAY_US
}

fn default_heartbeat_ms() -> u64 {
    DEFAULT_HEARTBEAT_MS
}

fn default_heartbeat_misses() -> u32 {
    DEFAULT_HEARTBEAT_MISSES
}

impl ClusterConfig {
    /// The ring of the nodes' `server` entries, in file order; owner index
    /// `i` is `nodes[i]`.
    pub fn ring(&self) -> Result<Ring, ConfigError> {
        let servers: Vec<&str> = self.nodes.iter().map(|n| n.server.as_str()).collect();
        Ring::parse(&servers).map_err(|e| invalid(e.to_string()))
    }

    /// Index in `nodes` of the node with id `id`.
    pub fn index_of(&self, id: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// This node's entry; `None` until `node_id` names one.
    pub fn this_node(&self) -> Option<&NodeConfig> {
        self.index_of(self.node_id?).map(|i| &self.nodes[i])
    }

    /// Where this node's UDP socket binds: `udp_bind`, else its own `udp`.
    pub fn bind_address(&self) -> Option<SocketAddr> {
        self.udp_bind.or_else(|| self.this_node().map(|n| n.udp))
    }

    /// Checks every rule; the error names `cluster` and the broken rule.
    pub(super) fn validate(&self, top_secret: Option<&Secret>) -> Result<(), ConfigError> {
        if self.nodes.is_empty() {
            return Err(invalid(
                "`nodes` is empty; list every node as [[cluster.nodes]] with id, server and udp"
                    .into(),
            ));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.id == 0 {
                return Err(invalid(format!(
                    "node `{}`: id must be from 1 to 65535",
                    node.server
                )));
            }
            if node.udp.port() == 0 || node.udp.ip().is_unspecified() {
                return Err(invalid(format!(
                    "node {}: udp `{}` is not an address peers can send to",
                    node.id, node.udp
                )));
            }
            for earlier in &self.nodes[..i] {
                if earlier.id == node.id {
                    return Err(invalid(format!("node id {} is listed twice", node.id)));
                }
                if earlier.udp == node.udp {
                    return Err(invalid(format!(
                        "nodes {} and {} share the udp address {}",
                        earlier.id, node.id, node.udp
                    )));
                }
            }
        }
        self.ring()?;
        let Some(id) = self.node_id else {
            return Err(invalid(
                "`node_id` is missing: set it in [cluster] or pass --node-id".into(),
            ));
        };
        if self.index_of(id).is_none() {
            let ids: Vec<String> = self.nodes.iter().map(|n| n.id.to_string()).collect();
            return Err(invalid(format!(
                "node_id {id} is not one of the nodes ({})",
                ids.join(", ")
            )));
        }
        if !DATAGRAM_BYTES.contains(&self.datagram_bytes) {
            return Err(invalid(format!(
                "datagram_bytes must be from {} to {}, got {}",
                DATAGRAM_BYTES.start(),
                DATAGRAM_BYTES.end(),
                self.datagram_bytes
            )));
        }
        if self.flush_delay_us > MAX_FLUSH_DELAY_US {
            return Err(invalid(format!(
                "flush_delay_us must be at most {MAX_FLUSH_DELAY_US}, got {}",
                self.flush_delay_us
            )));
        }
        if !HEARTBEAT_MS.contains(&self.heartbeat_ms) {
            return Err(invalid(format!(
                "heartbeat_ms must be from {} to {}, got {}",
                HEARTBEAT_MS.start(),
                HEARTBEAT_MS.end(),
                self.heartbeat_ms
            )));
        }
        if !HEARTBEAT_MISSES.contains(&self.heartbeat_misses) {
            return Err(invalid(format!(
                "heartbeat_misses must be from {} to {}, got {}",
                HEARTBEAT_MISSES.start(),
                HEARTBEAT_MISSES.end(),
                self.heartbeat_misses
            )));
        }
        if let Some(b) = self.broadcast {
            if !b.is_ipv4() || b.port() == 0 {
                return Err(invalid(format!(
                    "broadcast `{b}` must be an IPv4 broadcast address with a port, e.g. 10.0.1.255:7946"
                )));
            }
        }
        self.secret(top_secret).map(drop)
    }

    /// The cluster secret's bytes, by the precedence documented on
    /// [`ClusterConfig::secret`]; reads `secret_file` if it comes to that.
    pub fn secret(&self, top_secret: Option<&Secret>) -> Result<Vec<u8>, ConfigError> {
        let text = if let Some(s) = &self.secret {
            s.expose().to_owned()
        } else if let Some(path) = &self.secret_file {
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::SecretFile {
                path: path.clone(),
                error,
            })?;
            text.trim().to_owned()
        } else if let Some(s) = top_secret {
            s.expose().to_owned()
        } else {
            return Err(invalid(format!(
                "no cluster secret: set cluster.secret, cluster.secret_file, {CLUSTER_SECRET_ENV} \
                 or the top-level secret (a generated one would differ between nodes)"
            )));
        };
        if text.len() < MIN_SECRET_BYTES {
            return Err(invalid(format!(
                "the cluster secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                text.len()
            )));
        }
        Ok(text.into_bytes())
    }
}

impl ClusterConfig {
    /// One line per uid naming its owner node as nginx would pick it, for
    /// `imedge ring`: `uid 42: node 2, server 127.0.0.1:9002, udp 127.0.0.1:7002`.
    pub fn owner_lines(&self, uids: &[u64]) -> Result<Vec<String>, ConfigError> {
        let ring = self.ring()?;
        Ok(uids
            .iter()
            .map(|&uid| match ring.owner_of_uid(uid) {
                Some(i) => {
                    let n = &self.nodes[i];
                    format!(
                        "uid {uid}: node {}, server {}, udp {}",
                        n.id,
                        ring.servers()[i],
                        n.udp
                    )
                }
                None => format!(
                    "uid {uid}: no owner (the 21 ring points from its own are all down nodes; \
                     nginx would pick by round robin)"
                ),
            })
            .collect())
    }
}

impl Config {
    /// The cluster secret; `None` for a single node.
    pub fn cluster_secret(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        self.cluster
            .as_ref()
            .map(|c| c.secret(self.secret.as_ref()))
            .transpose()
    }
}

fn invalid(rule: String) -> ConfigError {
    ConfigError::Invalid {
        field: "cluster",
        rule,
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
