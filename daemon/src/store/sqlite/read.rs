//! A small pool of connections for reads and directory writes on the
//! callers' threads. WAL lets them read beside the store thread's writes;
//! each caller takes a connection, uses it and puts it back, so the pool
//! grows to the number of threads that call at once and no further.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use super::{open, unavailable, Fsync};
use crate::store::StoreError;

/// Connections to one database file, reused across calls.
pub struct Pool {
    path: PathBuf,
    fsync: Fsync,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    /// A pool for the (already checked) database at `path`.
    pub fn new(path: PathBuf, fsync: Fsync) -> Pool {
        Pool {
            path,
            fsync,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on an idle connection (opening one if none is idle).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match taken {
            Some(c) => c,
            None => open::connect(&self.path, self.fsync, false).map_err(unavailable)?,
        };
        let out = f(&mut conn);
        // A connection left inside a transaction by an error is not reused.
        if conn.is_autocommit() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
        out
    }
}
