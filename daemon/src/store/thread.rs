//! What every backend's store thread does the same way: take the queued
//! requests in batches (one transaction or pipeline each), and report each
//! core's finished tickets in one call of the [`Notify`] callback.

use std::collections::HashMap;
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

/// Waits up to `wait` for a request, then takes whatever else is queued,
/// up to `max` in all, into `batch`.
pub fn next_batch<T>(
    rx: &flume::Receiver<T>,
    wait: Duration,
    max: usize,
    batch: &mut Vec<T>,
) -> Next {
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
