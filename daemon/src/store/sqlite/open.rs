//! Start-up checks: a database that is missing, corrupt, foreign or too new
//! stops the daemon with a clear error instead of starting empty.
//!
//! "First start" versus "deleted": when the database is created, a marker
//! file `<db>.created` is written beside it (after the schema is in). A
//! later start that finds the marker but not the database knows the data
//! was deleted (or the path changed) and refuses; removing the marker too
//! is the operator's explicit "start afresh".

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::schema;
use super::Fsync;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The marker says a database was created here, but the file is gone.
    #[error("database {path} is missing but {marker} shows one was created there: the data was deleted or moved; restore it, or remove the marker to start empty")]
    Deleted {
        /// The database path.
        path: PathBuf,
        /// The marker file.
        marker: PathBuf,
    },
    /// The file is not a readable SQLite database.
    #[error("database {path} is corrupt or not a SQLite file: {reason}")]
    Corrupt {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// A SQLite database of some other program.
    #[error("{path} is a SQLite database but not an imedge one (application_id {found:#x}); point `store` at another file")]
    Foreign {
        /// The database path.
        path: PathBuf,
        /// Its application id.
        found: i32,
    },
    /// Written by a newer imedge.
    #[error("database {path} has schema version {found}, newer than the {known} this binary knows: run a newer imedge")]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// Any other failure (permissions, disk), with the step that failed.
    #[error("database {path}: {step}: {error}")]
    Io {
        /// The database path.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// The cause.
        error: String,
    },
}

/// Bytes of the database file each connection maps (address space, not RAM).
const MMAP_BYTES: i64 = 1 << 30;
/// Page cache of the store thread's connection, in KiB (SQLite's negative
/// `cache_size`): holds the hot pages of the message tree across commits
/// (clean pages are read through the memory map anyway). Not larger: each
/// commit walks the cache's hash table to drop pages past the file's end,
/// and at 64 MiB that walk was 11% of the store thread (measured on 2
/// vCPUs, `chat --users 2000 --max`: store thread 1.42 to 1.18 µs per
/// message at 8 MiB, 2 rounds; the steady-state `store_append` bench the
/// same within noise).
const WRITER_CACHE_KIB: i64 = 8 * 1024;

/// WAL pages after which the store thread's commit copies the WAL back
/// into the database (SQLite's default is 1,000). Under load each commit
/// rewrites the newest index page of every log it touches; a longer WAL
/// lets a checkpoint copy that page once for many commits (measured on 2
/// vCPUs, 2,000 logs, before schema 5: store thread 5.2 to 4.3-4.7 µs per
/// message). Costs disk: the WAL grows to about this × 4 KiB (64 MiB) and
/// stays that size.
const CHECKPOINT_PAGES: i64 = 16_384;

/// The marker file written beside `path` at creation.
pub fn marker_path(path: &Path) -> PathBuf {
    let mut m = path.as_os_str().to_owned();
    m.push(".created");
    PathBuf::from(m)
}

/// Opens a connection with the settings every connection shares.
pub fn connect(path: &Path, fsync: Fsync, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // The directory connection and the store thread both write; the loser
    // of a lock race waits instead of failing.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", fsync.pragma())?;
    // Reads through a memory map instead of read(2) per page: appends to
    // many logs touch pages all over the message tree (measured: without
    // it the store thread spends most of its time copying pages in).
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    // Only the store thread checkpoints (see [`CHECKPOINT_PAGES`]): a
    // directory write on a core's thread never copies the WAL back.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// Opens (or on first start creates) the database at `path`, checks it is
/// ours and not too new, applies migrations and switches on WAL.
pub fn open_checked(path: &Path, fsync: Fsync) -> Result<Connection, OpenError> {
    let marker = marker_path(path);
    let exists = path.exists();
    if !exists && marker.exists() {
        return Err(OpenError::Deleted {
            path: path.to_owned(),
            marker,
        });
    }
    let io = |step: &'static str| move |e: rusqlite::Error| classify(path, step, e);
    if !exists {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| OpenError::Io {
                path: path.to_owned(),
                step: "creating its directory",
                error: e.to_string(),
            })?;
        }
    }
    let mut conn = connect(path, fsync, !exists).map_err(io("opening"))?;
    if exists {
        // A zero-byte file reads as an empty database: it is not ours.
        let app: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(io("reading the header"))?;
        if app != schema::APPLICATION_ID {
            return Err(OpenError::Foreign {
                path: path.to_owned(),
                found: app,
            });
        }
    } else {
        conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
            .map_err(io("stamping the header"))?;
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(io("reading the schema version"))?;
    if version > schema::VERSION {
        return Err(OpenError::TooNew {
            path: path.to_owned(),
            found: version,
            known: schema::VERSION,
        });
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
        .map_err(io("switching to WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::Io {
            path: path.to_owned(),
            step: "switching to WAL",
            error: format!("journal mode stayed `{mode}`"),
        });
    }
    schema::migrate(&mut conn, version).map_err(io("migrating the schema"))?;
    // Reservations left by a crash become the numbering base: a seq that
    // may have been shown live before the crash is never given again.
    conn.execute(
        "UPDATE logs SET last_seq = max(last_seq, reserved), reserved = 0 WHERE reserved != 0",
        [],
    )
    .map_err(io("resuming numbering after a crash"))?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
        .map_err(io("sizing the page cache"))?;
    conn.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)
        .map_err(io("setting the checkpoint interval"))?;
    if !marker.exists() {
        std::fs::write(&marker, b"imedge database created here; see store docs\n").map_err(
            |e| OpenError::Io {
                path: path.to_owned(),
                step: "writing the creation marker",
                error: e.to_string(),
            },
        )?;
    }
    Ok(conn)
}

/// Sorts SQLite's "not a database" and "corrupt" codes from other failures.
fn classify(path: &Path, step: &'static str, e: rusqlite::Error) -> OpenError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => OpenError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        },
        _ => OpenError::Io {
            path: path.to_owned(),
            step,
            error: e.to_string(),
        },
    }
}
