//! A small pool of connections for the calls made on the callers' threads
//! (reads, account and group calls). Each call takes an idle connection or
//! opens one, and puts it back unless it broke; at most [`MAX_IDLE`] are
//! kept. While the store is marked down, calls fail at once with
//! `Unavailable` instead of each waiting for a connect timeout: the store
//! thread probes Redis and marks it up again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use redis::RedisResult;

use super::conn::{broken, interrupted, Conn, Target, Timeouts};
use crate::store::StoreError;

/// Idle connections kept for reuse.
pub const MAX_IDLE: usize = 16;
/// Tries of a call whose system calls keep being interrupted.
const MAX_TRIES: usize = 8;

/// Whether Redis answered last time anyone asked, shared with the store thread.
#[derive(Default)]
pub struct Health {
    down: AtomicBool,
}

impl Health {
    /// Whether calls should fail fast.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Records that Redis is unreachable; logs the first time.
    pub fn mark_down(&self, why: &dyn std::fmt::Display) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %why, "redis unreachable; refusing store calls until it answers");
        }
    }

    /// Records that Redis answers again; logs the first time.
    pub fn mark_up(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("redis answers again");
        }
    }
}

/// Connections for calls on the callers' threads.
pub struct Pool {
    target: Target,
    timeouts: Timeouts,
    idle: Mutex<Vec<Conn>>,
    health: Arc<Health>,
}

/// The answer when Redis is marked down.
pub fn down_error() -> StoreError {
    StoreError::Unavailable("redis unreachable (reconnecting)".into())
}

/// A Redis failure as the cores see it.
pub fn unavailable(e: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

impl Pool {
    /// A pool for `target`, sharing `health` with the store thread.
    pub fn new(target: Target, timeouts: Timeouts, health: Arc<Health>) -> Pool {
        Pool {
            target,
            timeouts,
            idle: Mutex::new(Vec::new()),
            health,
        }
    }

    /// Runs `f` on a connection. `f` may run again (on a fresh
    /// connection) when a system call was interrupted, so it must be safe
    /// to repeat: a read, or writes that give the same result twice.
    pub fn with<T>(&self, mut f: impl FnMut(&mut Conn) -> RedisResult<T>) -> Result<T, StoreError> {
        let mut tries = 0;
        loop {
            if self.health.is_down() {
                return Err(down_error());
            }
            tries += 1;
            match self.try_once(&mut f) {
                Err(e) if interrupted(&e) && tries < MAX_TRIES => continue,
                Err(e) => {
                    if broken(&e) {
                        self.health.mark_down(&e);
                    }
                    return Err(unavailable(&e));
                }
                Ok(v) => return Ok(v),
            }
        }
    }

    /// One try of `f`; the connection goes back to the pool unless it failed.
    fn try_once<T>(&self, f: &mut impl FnMut(&mut Conn) -> RedisResult<T>) -> RedisResult<T> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match taken {
            Some(c) => c,
            None => self.target.connect(self.timeouts)?,
        };
        let out = f(&mut conn);
        match &out {
            Ok(_) => self.put_back(conn),
            // A refusal by a healthy server leaves the connection usable.
            Err(e) if !broken(e) && !interrupted(e) => self.put_back(conn),
            Err(_) => {}
        }
        out
    }

    fn put_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Drops every idle connection (after an outage they may all be dead).
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
