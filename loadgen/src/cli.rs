//! Command-line flags. Every flag is documented in `--help`; the JSON
//! report repeats the resolved values under `config`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};

/// What the simulated users do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Hold the users connected and idle: connect rate and handshake latency.
    Connect,
    /// Single messages (cmd 10) between pairs of users.
    Chat,
    /// Room messages (cmd 11) to groups of --group-size members.
    Room,
    /// Chat and room messages mixed (--room-share of them to rooms).
    Mixed,
    /// Mixed traffic; at --storm-at a share of the users drop at once,
    /// reconnect and sync (cmd 30); counts what they missed and recovered.
    Storm,
}

impl Scenario {
    /// Whether users of this scenario belong to groups.
    pub fn uses_rooms(self) -> bool {
        matches!(self, Scenario::Room | Scenario::Mixed | Scenario::Storm)
    }

    /// Whether users of this scenario send single messages.
    pub fn uses_chat(self) -> bool {
        matches!(self, Scenario::Chat | Scenario::Mixed | Scenario::Storm)
    }
}

/// How a sender picks the recipient of a single message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairs {
    /// Always the same partner (user 2k with 2k+1).
    Fixed,
    /// A uniformly random other user for every message.
    Random,
    /// Always the same partner, owned by the same node (needs --ring or --ring-config)
    SameNode,
    /// Always the same partner, owned by another node (needs --ring or --ring-config)
    CrossNode,
}

impl Pairs {
    /// The flag's value, for messages.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }

    /// Whether the partners come from the ring's owners.
    pub fn by_owner(self) -> Option<crate::pairing::Side> {
        match self {
            Pairs::SameNode => Some(crate::pairing::Side::Same),
            Pairs::CrossNode => Some(crate::pairing::Side::Other),
            Pairs::Fixed | Pairs::Random => None,
        }
    }
}

/// imedge-loadgen: simulated WebSocket users with exact delivery accounting.
#[derive(Debug, Clone, Parser, Serialize, Deserialize)]
#[command(version, about)]
pub struct Args {
    /// What the users do.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// WebSocket URL of a node, e.g. ws://127.0.0.1:8080/chat (repeatable or comma-separated; users are spread over them by uid)
    #[arg(long, value_delimiter = ',', required_unless_present = "nginx")]
    pub url: Vec<String>,
    /// WebSocket URL of an nginx in front of the nodes (instead of --url)
    #[arg(long, conflicts_with = "url")]
    pub nginx: Option<String>,
    /// The cluster's nginx server entries in upstream order, comma-separated, e.g. "127.0.0.1:9001,127.0.0.1:9002 weight=2": each user connects to its owner node's --url (matched by host:port), and the report gives the cross-node share of deliveries
    #[arg(long, value_name = "SERVERS", conflicts_with = "ring_config")]
    pub ring: Option<String>,
    /// Read the ring from an imedge config file's [cluster] section (as --ring)
    #[arg(long, value_name = "FILE")]
    pub ring_config: Option<PathBuf>,
    /// Cluster secret to mint tokens with
    #[arg(long, env = "IMEDGE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// File of tokens, one per line: `<token>` or `<uid> <token>`
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Drive a reference server of shared/peers: any token, group = uid / --group-size, no HTTP set-up, no acks, no seq
    #[arg(long)]
    pub peer: bool,
    /// With --peer: the ceiling forwarder of benches/ (it passes frames through unchanged, so they are sent unmasked)
    #[arg(long, requires = "peer")]
    pub ceiling: bool,
    /// Simulated users (one connection each)
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// First user id [default: 1, or --group-size with --peer so groups are whole]
    #[arg(long)]
    pub uid_base: Option<i64>,
    /// Groups to create (room, mixed, storm)
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Members per group
    #[arg(long, default_value_t = 100)]
    pub group_size: usize,
    /// Recipients of single messages
    #[arg(long, value_enum, default_value_t = Pairs::Fixed)]
    pub pairs: Pairs,
    /// Share of messages sent to rooms in mixed and storm
    #[arg(long, default_value_t = 0.2)]
    pub room_share: f64,
    /// Total messages per second over all senders (fixed rate)
    #[arg(long, conflicts_with = "max")]
    pub rate: Option<f64>,
    /// As fast as the window allows: each user keeps --inflight messages unanswered
    #[arg(long)]
    pub max: bool,
    /// Messages in flight per user with --max (acks free slots; with --peer, deliveries do)
    #[arg(long, default_value_t = 1)]
    pub inflight: u32,
    /// Seconds of traffic after every user is connected
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds over which connections are opened
    #[arg(long, default_value_t = 1.0)]
    pub ramp: f64,
    /// Longest wait, in seconds, after the traffic for answers and deliveries in flight
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Size of each message's JSON text (content is padded)
    #[arg(long, default_value_t = 128)]
    pub message_bytes: usize,
    /// Connections being opened at once, over all cores
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Seconds allowed for TCP connect plus upgrade
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Source addresses, e.g. 127.0.0.2-127.0.0.60 (each connection binds one before connecting)
    #[arg(long)]
    pub src_ips: Option<String>,
    /// Storm: seconds into the traffic when users drop [default: half of --duration]
    #[arg(long)]
    pub storm_at: Option<f64>,
    /// Storm: share of the users that drop
    #[arg(long, default_value_t = 0.5)]
    pub storm_share: f64,
    /// Storm: milliseconds a dropped user waits before reconnecting
    #[arg(long, default_value_t = 500)]
    pub storm_pause_ms: u64,
    /// Runtimes (pinned threads) per process [default: one per CPU]
    #[arg(long)]
    pub cores: Option<usize>,
    /// CPUs to pin the cores to, round robin, e.g. 1 or 0-1 or 0,2 [default: all]; none: no pinning
    #[arg(long)]
    pub cpus: Option<String>,
    /// Processes: a number, or auto to use as many as the open-files limit needs
    #[arg(long, default_value = "1")]
    pub workers: String,
    /// Write the report as JSON here
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Draw delivery latency (p50/p99/p999) and throughput over time as SVG here
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Process id of the server: its CPU time and RSS over the run go in the report (repeatable or comma-separated: the nodes of a cluster, summed)
    #[arg(long, value_name = "PID", value_delimiter = ',')]
    pub target_pid: Vec<u32>,
    /// No progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Internal: this process is worker INDEX of a run (re-executed by the coordinator)
    #[arg(long, hide = true)]
    pub worker_index: Option<usize>,
    /// Internal: number of workers of the run
    #[arg(long, hide = true)]
    pub worker_count: Option<usize>,
}

impl Args {
    /// The URLs users connect to (`--nginx` counts as one).
    pub fn urls(&self) -> Vec<String> {
        match &self.nginx {
            Some(n) => vec![n.clone()],
            None => self.url.clone(),
        }
    }

    /// The first user id.
    pub fn uid_base(&self) -> i64 {
        self.uid_base.unwrap_or(if self.peer {
            self.group_size.max(1) as i64
        } else {
            1
        })
    }
}
