//! `imedge serve` flags: one per [`Config`] field, each overriding the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Config, FsyncPolicy, Secret};

/// Flags of `imedge serve`. Each field is documented once, on [`Config`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML config file; flags override its fields
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Validate the configuration and exit
    #[arg(long)]
    pub check_config: bool,
    /// Address of the WebSocket and HTTP port [default: 0.0.0.0:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Worker threads, 0 = one per core [default: 0]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Cluster secret; see [`Config::secret`].
    #[arg(
        long,
        env = "IMEDGE_SECRET",
        hide_env_values = true,
        value_name = "TEXT",
        help = "Cluster secret, at least 16 bytes [default: <data-dir>/secret, generated]"
    )]
    pub secret: Option<Secret>,
    /// Directory for the generated secret and the default database [default: imedge-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Storage backend; see [`Config::store`].
    #[arg(
        long,
        value_name = "SPEC",
        help = "sqlite (= <data-dir>/imedge.db) | sqlite:<path> | memory | redis://host[:port][/db] [default: sqlite]"
    )]
    pub store: Option<String>,
    /// SQLite commit durability [default: normal]
    #[arg(long, value_name = "POLICY")]
    pub fsync: Option<FsyncPolicy>,
    /// Messages kept per inbox and group log [default: 1000]
    #[arg(long, value_name = "N")]
    pub retention_messages: Option<usize>,
    /// Days a stored message is kept, 0 = no age limit [default: 30]
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Largest client message; larger closes with 1009 [default: 65536]
    #[arg(long, value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Time allowed for the upgrade request [default: 10000]
    #[arg(long, value_name = "MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// Quiet time before the server pings [default: 30000]
    #[arg(long, value_name = "MS")]
    pub ping_interval_ms: Option<u64>,
    /// Silence after which a connection is closed [default: 75000]
    #[arg(long, value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Connections on this node before upgrades get 503 [default: 19000]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Comma-separated allowed origins; empty = any [default: empty]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub allowed_origins: Option<Vec<String>>,
    /// Messages per second per connection [default: 200]
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// Messages a quiet connection may send at once [default: 400]
    #[arg(long, value_name = "N")]
    pub rate_burst: Option<u32>,
    /// Unsent bytes per connection before it is closed with 1008 [default: 4194304]
    #[arg(long, value_name = "BYTES")]
    pub outbound_queue_bytes: Option<usize>,
    /// Frames a second on a core above which it gathers writes for 1 ms; 0 = never [default: 200000]
    #[arg(long, value_name = "N")]
    pub gather_above: Option<u64>,
    /// Time draining connections get on shutdown [default: 10000]
    #[arg(long, value_name = "MS")]
    pub drain_timeout_ms: Option<u64>,
    /// Log filter, tracing EnvFilter syntax [default: info]
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// This node's id in the [cluster] section (one file can serve every node)
    #[arg(long, value_name = "ID")]
    pub node_id: Option<u16>,
    /// Cluster secret; see [`super::ClusterConfig::secret`].
    #[arg(
        long,
        env = "IMEDGE_CLUSTER_SECRET",
        hide_env_values = true,
        value_name = "TEXT",
        help = "Key of the datagrams between nodes, the same on every node [default: cluster.secret, cluster.secret_file, then secret]"
    )]
    pub cluster_secret: Option<Secret>,
}

impl ServeArgs {
    /// Writes every flag that was given over `config`.
    pub(super) fn apply(&self, config: &mut Config) {
        fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
            if let Some(v) = flag {
                *field = v.clone();
            }
        }
        set(&mut config.listen, &self.listen);
        set(&mut config.threads, &self.threads);
        if let Some(secret) = &self.secret {
            config.secret = Some(secret.clone());
        }
        set(&mut config.data_dir, &self.data_dir);
        set(&mut config.store, &self.store);
        set(&mut config.fsync, &self.fsync);
        set(&mut config.retention_messages, &self.retention_messages);
        set(&mut config.retention_days, &self.retention_days);
        set(&mut config.max_message_bytes, &self.max_message_bytes);
        set(&mut config.handshake_timeout_ms, &self.handshake_timeout_ms);
        set(&mut config.ping_interval_ms, &self.ping_interval_ms);
        set(&mut config.idle_timeout_ms, &self.idle_timeout_ms);
        set(&mut config.max_connections, &self.max_connections);
        if let Some(list) = &self.allowed_origins {
            // `--allowed-origins ''` clears a list set in the file.
            config.allowed_origins = list.iter().filter(|o| !o.is_empty()).cloned().collect();
        }
        set(&mut config.rate_limit, &self.rate_limit);
        set(&mut config.rate_burst, &self.rate_burst);
        set(&mut config.outbound_queue_bytes, &self.outbound_queue_bytes);
        set(&mut config.gather_above, &self.gather_above);
        set(&mut config.drain_timeout_ms, &self.drain_timeout_ms);
        set(&mut config.log, &self.log);
        // Without a [cluster] section there is nothing to set; `Config::load`
        // refuses a stray --node-id, and a stray secret in the environment is
        // harmless.
        if let Some(cluster) = &mut config.cluster {
            if self.node_id.is_some() {
                cluster.node_id = self.node_id;
            }
            if let Some(secret) = &self.cluster_secret {
                cluster.secret = Some(secret.clone());
            }
        }
    }
}
