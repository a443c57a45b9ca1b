//! The daemon's one configuration: a TOML file, every field overridable by a
//! `imedge serve` flag, validated before anything starts.
//!
//! Each field of [`Config`] is documented here once, with its default and
//! what it costs in memory; `imedge.example.toml` repeats it for operators and
//! a test keeps the two in step. Precedence: flag (or `IMEDGE_SECRET`), then
//! the file, then the default.

mod args;
mod cluster;
mod error;
mod secret;
mod store;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use args::ServeArgs;
pub use cluster::{ClusterConfig, NodeConfig, CLUSTER_SECRET_ENV, DEFAULT_DATAGRAM_BYTES};
pub use error::ConfigError;
pub use secret::Secret;
pub use store::{FsyncPolicy, StoreSpec, DEFAULT_DB_FILE, SQLITE_DEFAULT};

/// Settings of `imedge serve`. Defaults suit a node of a few cores holding
/// up to 19 000 users; see each field for its cost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the WebSocket and HTTP port.
    /// Default `0.0.0.0:8080`. Cost: none.
    pub listen: SocketAddr,

    /// Worker threads, each a runtime with its own listener and its share of
    /// the connections; 0 = one per available core.
    /// Default 0. Cost per thread: a 2 MiB stack (virtual; only touched
    /// pages are resident) and roughly 100 KiB of io_uring rings.
    pub threads: usize,

    /// Cluster secret: the HMAC key of login tokens and of datagrams between
    /// nodes; every node and the loadgen must share it. The key is the text's
    /// bytes as given (at least 16). Absent: `<data_dir>/secret` is read, or
    /// created on first start with 32 random bytes hex-encoded (mode 0600).
    /// Prefer `--secret` / `IMEDGE_SECRET` or that file over this field.
    /// Default absent. Cost: none.
    pub secret: Option<Secret>,

    /// Directory for the generated secret and the default SQLite database;
    /// relative paths are from the working directory.
    /// Default `imedge-data`. Cost: disk only.
    pub data_dir: PathBuf,

    /// Where users, groups, sequences and stored messages live: `sqlite`
    /// (the file `<data_dir>/imedge.db`), `sqlite:<path>`, `memory` (lost on
    /// restart), `redis://[user:pass@]host[:port][/db]` (one Redis shared
    /// by the nodes of a cluster) or
    /// `redis+cluster://[user:pass@]host:port,host:port,...` (a Redis
    /// Cluster, by some of its nodes). A SQLite database
    /// that is corrupt, not imedge's, too new, or deleted after its first
    /// start (a marker `<db>.created` stays beside it) stops the start.
    /// Default `sqlite`. Cost: `memory` holds every stored message and its
    /// index in RAM until retention drops it; the others hold a cache only
    /// (SQLite: up to 64 MiB of page cache on the store thread, 2 MiB per
    /// reading connection, and the pages of the memory-mapped file it has
    /// touched, which count in RSS but the kernel can reclaim; measured:
    /// 24 MB of 60 KB messages stored grew RSS by about 31 MB).
    pub store: String,

    /// SQLite commit durability: `full`, `normal` or `off` (see
    /// [`FsyncPolicy`] for what each gives an acknowledged message).
    /// Ignored by the other backends.
    /// Default `normal`. Cost: `full` adds one fsync per group commit to
    /// the ack latency.
    pub fsync: FsyncPolicy,

    /// Messages kept per user inbox and per group log; older ones are
    /// deleted first (sequence numbers are never reused). 1 to 10 000 000.
    /// Default 1000. Cost: disk (SQLite) or RAM (`memory`), about this ×
    /// the average frame size per active log.
    pub retention_messages: usize,

    /// Days a stored message is kept; 0 = no age limit. Enforced by the
    /// SQLite store in small deletes between commits (`memory` keeps count
    /// and size limits only). At most 36 500.
    /// Default 30. Cost: none.
    pub retention_days: u32,

    /// Largest message a client may send, after joining its fragments;
    /// larger closes the connection with 1009. 1 KiB to 64 MiB.
    /// Default 65536 (64 KiB). Cost: a connection buffers up to this much
    /// while a message is arriving; worst case `max_connections` × this
    /// (19 000 × 64 KiB ≈ 1.2 GiB).
    pub max_message_bytes: usize,

    /// Time from accept to a complete upgrade (or HTTP) request head; then
    /// the socket is closed.
    /// Default 10000 (10 s). Cost: an unfinished handshake holds its socket
    /// and up to 8 KiB of head for at most this long.
    pub handshake_timeout_ms: u64,

    /// Quiet time after which the server pings a connection.
    /// Default 30000 (30 s). Cost: no memory; each ping is a 2-byte frame,
    /// about 630 a second for 19 000 idle connections.
    pub ping_interval_ms: u64,

    /// A connection from which nothing at all arrives for this long is
    /// closed; must exceed `ping_interval_ms` so a pinged peer can answer.
    /// Default 75000 (75 s). Cost: a vanished peer's connection keeps its
    /// memory this long.
    pub idle_timeout_ms: u64,

    /// WebSocket connections on this node, all threads together; at this
    /// count new upgrades are answered 503. Keep the open-files limit
    /// (`ulimit -n`) above it.
    /// Default 19000. Cost: this × the per-connection baseline (socket,
    /// read buffer, session and routing entries; about 1.1 KB of process memory
    /// idle, measured at 15,000 connections, so about 21 MB), plus kernel socket buffers, partial messages and queued output in flight.
    pub max_connections: usize,

    /// Browser origins allowed to open `/chat`, each `scheme://host[:port]`
    /// as browsers send it (no path, no trailing slash; host compared
    /// ignoring case). Requests without `Origin` (non-browser clients) pass.
    /// Default empty = any origin. Cost: none.
    pub allowed_origins: Vec<String>,

    /// Messages per second a connection may send (token bucket refilled at
    /// this rate); a message over it gets error 429 and the connection stays.
    /// Default 200. Cost: the bucket, 16 bytes per connection.
    pub rate_limit: u32,

    /// Bucket size of `rate_limit`: messages a quiet connection may send at
    /// once. Default 400. Cost: none beyond `rate_limit`'s.
    pub rate_burst: u32,

    /// Bytes queued to one connection and not yet written (a slow reader);
    /// above it the connection is closed with 1008. At least
    /// 2 × `max_message_bytes`, so one largest message always fits.
    /// Default 4194304 (4 MiB). Cost: up to this per slow connection. Frames
    /// up to 1 KiB are copied into each queue; longer room frames are
    /// shared between recipients. The worst case is `max_connections` ×
    /// this (19 000 × 4 MiB ≈ 74 GiB): lower it on small machines.
    pub outbound_queue_bytes: usize,

    /// Frames queued per second on one core above which the core gathers
    /// its writes for one timer tick (1 ms) before each writing pass, so a
    /// busy room's frames reach each member in fewer, larger writes. 0
    /// never gathers. Default 200000 (measured on 2 vCPUs, `/metrics`: chat
    /// at 45,000 msg/s queues ~45,500 a second per core, full room fanout
    /// ~780,000). Cost: latency while a core is above it (chat p50 0.9 to
    /// 3.1 ms when every pass gathered).
    pub gather_above: u64,

    /// On shutdown, time the draining node (no new connections, `/healthz`
    /// 503) gives connections to leave before closing them.
    /// Default 10000 (10 s). Cost: none.
    pub drain_timeout_ms: u64,

    /// Log filter in tracing's `EnvFilter` syntax, e.g. `info` or
    /// `imedge=debug,info`.
    /// Default `info`. Cost: none; `debug` and `trace` cost CPU per frame.
    pub log: String,

    /// The `[cluster]` section: this node, the other nodes, their nginx
    /// `server` strings and UDP addresses (see [`ClusterConfig`]).
    /// Default absent: a single node. Cost: none when absent.
    pub cluster: Option<ClusterConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            threads: 0,
            secret: None,
            data_dir: PathBuf::from("imedge-data"),
            store: SQLITE_DEFAULT.to_owned(),
            fsync: FsyncPolicy::Normal,
            retention_messages: 1000,
            retention_days: 30,
            max_message_bytes: 64 * 1024,
            handshake_timeout_ms: 10_000,
            ping_interval_ms: 30_000,
            idle_timeout_ms: 75_000,
            max_connections: 19_000,
            allowed_origins: Vec::new(),
            rate_limit: 200,
            rate_burst: 400,
            outbound_queue_bytes: 4 * 1024 * 1024,
            gather_above: 200_000,
            drain_timeout_ms: 10_000,
            log: "info".to_owned(),
            cluster: None,
        }
    }
}

impl Config {
    /// The file named by `--config` (defaults without one), then the flags
    /// over it, then [`Config::validate`].
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        args.apply(&mut config);
        if args.node_id.is_some() && config.cluster.is_none() {
            return Err(ConfigError::Invalid {
                field: "cluster",
                rule: "--node-id needs a [cluster] section in the config file".into(),
            });
        }
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses one TOML file; unknown fields are errors. Not validated.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        Config::from_toml(&text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            error,
        })
    }

    /// Parses TOML text; missing fields take their defaults. Not validated.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Worker threads to start: `threads`, or with 0 the available cores.
    pub fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// `handshake_timeout_ms` as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    /// `ping_interval_ms` as a duration.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    /// `idle_timeout_ms` as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// `drain_timeout_ms` as a duration.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }

    /// The `store` field, parsed; `sqlite` alone is `<data_dir>/imedge.db`.
    pub fn store_spec(&self) -> Result<StoreSpec, ConfigError> {
        if self.store == SQLITE_DEFAULT {
            return Ok(StoreSpec::Sqlite(self.data_dir.join(DEFAULT_DB_FILE)));
        }
        self.store.parse().map_err(|rule| ConfigError::Invalid {
            field: "store",
            rule,
        })
    }
}

#[cfg(test)]
mod tests;
