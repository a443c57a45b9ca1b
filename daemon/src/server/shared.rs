//! What every core shares: limits, the secret, the store, the metrics, and
//! each core's inbox.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::inbox::CoreMsg;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// The limits and timings the cores enforce (from the config).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest WebSocket message accepted (bytes); larger ones close with 1009.
    pub max_message_bytes: usize,
    /// Time allowed to complete an HTTP request head or upgrade.
    pub handshake_timeout_ms: u64,
    /// Quiet time after which the server pings.
    pub ping_interval_ms: u64,
    /// Quiet time after which the server closes.
    pub idle_timeout_ms: u64,
    /// WebSocket connections above which upgrades get 503.
    pub max_connections: usize,
    /// Origins allowed to upgrade (empty: any).
    pub allowed_origins: Vec<String>,
    /// Messages per second per connection.
    pub rate_limit: u32,
    /// Burst of the per-connection token bucket.
    pub rate_burst: u32,
    /// Outbound bytes queued per connection before it is closed as a slow consumer.
    pub outbound_queue_bytes: usize,
    /// Longest a drain may take before the process exits anyway.
    pub drain_timeout_ms: u64,
}

impl From<&Config> for Limits {
    fn from(cfg: &Config) -> Self {
        Self {
            max_message_bytes: cfg.max_message_bytes,
            handshake_timeout_ms: cfg.handshake_timeout_ms,
            ping_interval_ms: cfg.ping_interval_ms,
            idle_timeout_ms: cfg.idle_timeout_ms,
            max_connections: cfg.max_connections,
            allowed_origins: cfg.allowed_origins.clone(),
            rate_limit: cfg.rate_limit,
            rate_burst: cfg.rate_burst,
            outbound_queue_bytes: cfg.outbound_queue_bytes,
            drain_timeout_ms: cfg.drain_timeout_ms,
        }
    }
}

/// Process-wide state, shared by reference between the cores.
pub struct Shared {
    /// Limits and timings.
    pub limits: Limits,
    /// The token secret.
    pub secret: Vec<u8>,
    /// Users, groups and message logs.
    pub store: Arc<dyn Store>,
    /// Counters, one slot per core.
    pub metrics: Metrics,
    /// Each core's inbox, by core index.
    pub inboxes: Vec<flume::Sender<CoreMsg>>,
    /// Open WebSocket connections plus upgrades in progress, over all cores.
    pub ws_conns: AtomicUsize,
    epoch: Instant,
}

impl Shared {
    /// Shared state for `inboxes.len()` cores.
    pub fn new(
        limits: Limits,
        secret: Vec<u8>,
        store: Arc<dyn Store>,
        inboxes: Vec<flume::Sender<CoreMsg>>,
    ) -> Self {
        Self {
            limits,
            secret,
            store,
            metrics: Metrics::new(inboxes.len()),
            inboxes,
            ws_conns: AtomicUsize::new(0),
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
        if prev >= self.limits.max_connections {
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
