//! The engine: one monoio runtime per core on a pinned thread, each holding
//! a share of the users; per connection a small task that waits for
//! readiness and reads into the core's buffer. Cores talk to the
//! coordinator only through [`Command`]s and [`Event`]s, so the same
//! coordinator drives cores in this process or in worker processes.

mod connect;
mod core;
mod pace;
mod read;
mod runtime;
mod send;
mod storm;
mod task;
mod user;

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use runtime::spawn_core;

use crate::account::{RxKey, RxStream, TxKey, TxStream};
use crate::cluster::Cluster;
use crate::plan::Plan;
use crate::stats::{Counters, Hist};
use crate::target::{Target, Tokens};

/// What every core of a process shares, read-only.
#[derive(Debug)]
pub struct Ctx {
    /// Users and groups.
    pub plan: Plan,
    /// Where users connect (see [`Ctx::target`]).
    pub targets: Vec<Target>,
    /// The ring's owners of the users (`--ring`), if known.
    pub cluster: Option<Cluster>,
    /// Tokens for the upgrade.
    pub tokens: Tokens,
    /// Source addresses (user `i` binds `src_ips[i % len]`); empty: any.
    pub src_ips: Vec<Ipv4Addr>,
    /// Peer mode: no acks, no seq, `userid` in messages.
    pub peer: bool,
    /// Client frames go unmasked (the ceiling forwarder hands them back as they are).
    pub unmasked: bool,
    /// Total messages per second over all senders; `None`: max mode.
    pub rate: Option<f64>,
    /// Window per user in max mode.
    pub inflight: u32,
    /// Size of each message's JSON.
    pub message_bytes: usize,
    /// Connections being opened at once, per core.
    pub connect_concurrency: usize,
    /// Limit for connect plus upgrade.
    pub connect_timeout: Duration,
    /// Time over which a core opens its connections.
    pub ramp: Duration,
    /// Wait before a dropped user reconnects.
    pub storm_pause: Duration,
    /// Senders in the whole run (the rate is shared out by sender).
    pub total_senders: usize,
    /// This run's id, in every stamp.
    pub run_id: u32,
}

impl Ctx {
    /// Where user index `i` connects: its owner node's URL when the ring
    /// and the nodes are known, else `targets[i % len]`.
    pub fn target(&self, i: usize) -> &Target {
        let t = self.cluster.as_ref().and_then(|c| c.target_index(i));
        &self.targets[t.unwrap_or(i % self.targets.len())]
    }
}

/// From the coordinator to every core.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Start sending.
    Start,
    /// Drop this share of the connections at once; they reconnect and sync.
    Storm {
        /// Share of the core's users, 0 to 1.
        share: f64,
    },
    /// Stop sending; keep receiving.
    StopSending,
    /// Close every connection and report.
    Finish,
}

/// From a core (or a worker process) to the coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// A worker process announces how many cores it runs.
    Hello {
        /// Cores of the worker.
        units: usize,
    },
    /// The core has tried to connect all its users.
    Connected {
        /// The core.
        unit: usize,
    },
    /// Periodic state of a core.
    Tick(Box<Tick>),
    /// The core's final results.
    Final(Box<CoreResult>),
    /// The core could not run.
    Failed {
        /// The core.
        unit: usize,
        /// Why.
        error: String,
    },
}

/// A core's state every [`TICK`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tick {
    /// The core.
    pub unit: usize,
    /// When (unix microseconds).
    pub at_us: u64,
    /// Connections open now.
    pub live: u64,
    /// Users syncing after a reconnect.
    pub syncing: u64,
    /// Messages waiting for an ack (or, in peer max mode, for deliveries).
    pub pending: u64,
    /// Counters so far.
    pub counters: Counters,
    /// Delivery latencies since the previous tick.
    pub delivery: Hist,
}

/// How often cores report.
pub const TICK: Duration = Duration::from_millis(200);

/// The histograms of a core or a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Hists {
    /// Live delivery latency (send to receipt).
    pub delivery: Hist,
    /// Latency of messages received through sync after a drop.
    pub recovered: Hist,
    /// Send to ack.
    pub ack: Hist,
    /// TCP connect.
    pub connect: Hist,
    /// Upgrade request to 101.
    pub handshake: Hist,
    /// Storm: drop to end of sync.
    pub reconnect: Hist,
}

impl Hists {
    /// Adds every histogram of `o`.
    pub fn merge(&mut self, o: &Hists) {
        self.delivery.merge(&o.delivery);
        self.recovered.merge(&o.recovered);
        self.ack.merge(&o.ack);
        self.connect.merge(&o.connect);
        self.handshake.merge(&o.handshake);
        self.reconnect.merge(&o.reconnect);
    }
}

/// What a core hands back at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoreResult {
    /// The core.
    pub unit: usize,
    /// Its counters.
    pub counters: Counters,
    /// Its histograms.
    pub hists: Hists,
    /// Its users' sending streams.
    pub tx: Vec<(TxKey, TxStream)>,
    /// Its users' receiving streams.
    pub rx: Vec<(RxKey, RxStream)>,
    /// CPU seconds of the whole process over the traffic window (reported
    /// by one core per process).
    pub process_cpu_s: Option<f64>,
    /// Resident set of the whole process at the end, KiB (same core).
    pub process_rss_kib: Option<u64>,
}
