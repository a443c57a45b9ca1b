//! The checkpointer: copies the WAL back into the database file on its own
//! thread, so the store thread's commits rarely do it.
//!
//! Under load the store thread is the one stage every acknowledged message
//! passes through, and a checkpoint inside its commit cost it about an
//! eighth of its CPU plus the waits of two fsyncs (measured: 12% of its
//! perf samples, and 10% of its time in disk sleep). A passive checkpoint
//! on another connection copies the frames committed so far without
//! taking the write lock, so the store thread goes on committing meanwhile.
//! The store thread's own autocheckpoint stays, as the backstop that lets
//! the WAL start over: SQLite restarts the WAL only when a write begins
//! with every frame copied, which a checkpoint on another thread cannot
//! time. It then finds most frames already copied.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{open, Fsync, OpenError};

/// How often a checkpoint runs.
pub const EVERY: Duration = Duration::from_millis(100);
/// Least time between two warnings of a failing checkpoint (a full disk
/// fails every turn).
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The running checkpointer; dropping it stops the thread and waits for it.
pub struct Checkpointer {
    stop: Option<flume::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the (already checked) database at `path`.
    pub fn start(path: &Path, fsync: Fsync) -> Result<Checkpointer, OpenError> {
        let failed = |error: String| OpenError::Io {
            path: path.to_owned(),
            step: "starting the checkpointer",
            error,
        };
        let conn = open::connect(path, fsync, false).map_err(|e| failed(e.to_string()))?;
        let (stop, stopped) = flume::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("imedge-ckpt".into())
            .spawn(move || run(conn, stopped))
            .map_err(|e| failed(e.to_string()))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Checkpoints every [`EVERY`] until `stopped` is dropped.
fn run(conn: Connection, stopped: flume::Receiver<()>) {
    let mut warned: Option<Instant> = None;
    while let Err(flume::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        // PASSIVE never waits for the writer or readers; a busy answer
        // (the store thread checkpointing itself) is simply the next turn's.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        if let Err(e) = done {
            let due = match warned {
                Some(at) => at.elapsed() >= WARN_EVERY,
                None => true,
            };
            if due {
                tracing::warn!(error = %e, "background checkpoint failed; retrying every 100 ms");
                warned = Some(Instant::now());
            }
        }
    }
}
