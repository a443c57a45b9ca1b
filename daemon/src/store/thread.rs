//! What every backend's store thread does the same way: take the queued
//! requests in batches (one transaction or pipeline each), and report each
//! core's finished tickets in one call of the [`Notify`] callback.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Notify, StoreError, Ticket};

/// What [`next_batch`] found.
pub enum Next {
    /// `batch` holds at least one request.
    Batch,
    /// Nothing came within the wait: time for the thread's idle duties.
    Idle,
    /// Every sender is gone: the store is closing.
    Closed,
}

/// The store's side of an orderly stop: asks its thread to finish.
pub struct Closer {
    flag: Arc<AtomicBool>,
    exited: flume::Receiver<()>,
}

/// The store thread's side of an orderly stop: moved into the thread, and
/// dropped when it ends.
pub struct Closing {
    flag: Arc<AtomicBool>,
    _alive: flume::Sender<()>,
}

/// A linked pair for one store thread.
pub fn closer() -> (Closer, Closing) {
    let flag = Arc::new(AtomicBool::new(false));
    let (alive, exited) = flume::bounded(1);
    let closing = Closing {
        flag: flag.clone(),
        _alive: alive,
    };
    (Closer { flag, exited }, closing)
}

impl Closer {
    /// Asks the thread to write what is queued and end (see
    /// [`crate::store::Store::close`]), and waits for it at most `limit`.
    pub fn close(&self, limit: Duration) {
        self.flag.store(true, Ordering::Relaxed);
        let ended = matches!(
            self.exited.recv_timeout(limit),
            Err(flume::RecvTimeoutError::Disconnected)
        );
        if !ended {
            tracing::warn!(
                "the store thread did not finish in time; what it holds may stay reserved"
            );
        }
    }
}

impl Closing {
    fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// Waits up to `wait` for a request, then takes whatever else is queued,
/// up to `max` in all, into `batch`. [`Next::Closed`] once every sender is
/// gone, or once a close is asked and the queue is empty.
pub fn next_batch<T>(
    rx: &flume::Receiver<T>,
    wait: Duration,
    max: usize,
    batch: &mut Vec<T>,
    closing: &Closing,
) -> Next {
    if closing.requested() && rx.is_empty() {
        return Next::Closed;
    }
    // A close asked during the wait is seen within a tenth of a second.
    let wait = wait.min(Duration::from_millis(100));
    match rx.recv_timeout(wait) {
        Ok(op) => batch.push(op),
        Err(flume::RecvTimeoutError::Timeout) => return Next::Idle,
        Err(flume::RecvTimeoutError::Disconnected) => return Next::Closed,
    }
    while batch.len() < max {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
    Next::Batch
}

/// One core's finished tickets, as the notify callback takes them.
type Reports = Vec<(u64, Result<(), StoreError>)>;

/// Calls `notify` once per core with that core's outcomes (a failure's
/// reason becomes [`StoreError::Unavailable`]).
pub fn report(notify: Option<Notify>, outcomes: Vec<(Ticket, Result<(), String>)>) {
    let Some(notify) = notify.filter(|_| !outcomes.is_empty()) else {
        return;
    };
    let mut per_core: HashMap<usize, Reports> = HashMap::new();
    for (t, r) in outcomes {
        per_core
            .entry(t.core)
            .or_default()
            .push((t.id, r.map_err(StoreError::Unavailable)));
    }
    for (core, done) in per_core {
        notify(core, done);
    }
}
