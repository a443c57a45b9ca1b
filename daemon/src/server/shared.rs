//! What every core shares: limits, the secret, the store, the metrics, and
//! each core's inbox.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::api::{Limiter, Offload};
use super::inbox::CoreMsg;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// Offload threads (each password hash holds 19 MiB while it runs).
const OFFLOAD_THREADS: usize = 2;
/// Store-read threads: a read waits on the disk or the network, not a CPU.
const READ_THREADS: usize = 4;
/// Store reads queued at most; beyond, the message or sync gets 503.
const READ_QUEUE: usize = 4096;

/// Process-wide state, shared by reference between the cores.
pub struct Shared {
    /// The validated configuration: limits and timings the cores enforce.
    pub config: Config,
    /// The token secret.
    pub secret: Vec<u8>,
    /// Users, groups and message logs.
    pub store: Arc<dyn Store>,
    /// Counters, one slot per core.
    pub metrics: Metrics,
    /// Each core's inbox, by core index.
    pub inboxes: Vec<flume::Sender<CoreMsg>>,
    /// Threads for work that must not run on a core: password hashing and
    /// the HTTP API's store calls.
    pub offload: Offload,
    /// Threads for the message path's store reads, so a core never waits
    /// on the store (the core awaits the answer; other tasks keep going).
    pub reads: Offload,
    /// Login and registration attempts per mobile and per client address.
    pub limiter: Limiter,
    /// Open WebSocket connections plus upgrades in progress, over all cores.
    pub ws_conns: AtomicUsize,
    /// The cluster handle (owner lookups, sends to peers); `None` for a single node.
    pub cluster: Option<Arc<super::cluster::Cluster>>,
    epoch: Instant,
}

impl Shared {
    /// Shared state for `inboxes.len()` cores.
    pub fn new(
        config: Config,
        secret: Vec<u8>,
        store: Arc<dyn Store>,
        inboxes: Vec<flume::Sender<CoreMsg>>,
    ) -> Self {
        Self {
            config,
            secret,
            store,
            metrics: Metrics::new(inboxes.len()),
            inboxes,
            offload: Offload::new(OFFLOAD_THREADS),
            reads: Offload::named("imedge-reads", READ_THREADS, READ_QUEUE),
            limiter: Limiter::default(),
            ws_conns: AtomicUsize::new(0),
            cluster: None,
            epoch: Instant::now(),
        }
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// Milliseconds since start, the clock of the sweepers.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Sends `msg` to core `core`'s inbox (unbounded: the cores' own limits bound it).
    pub fn send(&self, core: usize, msg: CoreMsg) {
        // A closed inbox means that core has exited during shutdown; nothing to do.
        let _ = self.inboxes[core].send(msg);
    }

    /// Reserves a WebSocket connection slot; false at the limit.
    pub fn try_reserve_conn(&self) -> bool {
        let prev = self.ws_conns.fetch_add(1, Relaxed);
        if prev >= self.config.max_connections {
            self.ws_conns.fetch_sub(1, Relaxed);
            return false;
        }
        true
    }

    /// Releases a slot taken by [`Shared::try_reserve_conn`].
    pub fn release_conn(&self) {
        self.ws_conns.fetch_sub(1, Relaxed);
    }

    /// Whether the node is draining.
    pub fn draining(&self) -> bool {
        self.metrics.draining.load(Relaxed)
    }
}

/// Wall-clock milliseconds since the Unix epoch (the `ts` of messages).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Wall-clock seconds since the Unix epoch (token expiry).
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
