//! The database layout and its migrations, numbered by `PRAGMA user_version`.
//!
//! Migration `n` (1-based) takes a database from version `n - 1` to `n`;
//! each runs in its own transaction, so a crash mid-migration leaves the
//! previous version intact. A file stamped with a newer version than
//! [`VERSION`] was written by a newer binary and is refused at start-up.

use rusqlite::Connection;

/// `PRAGMA application_id` of an imedge database ("IMED"): tells our files
/// from other SQLite databases.
pub const APPLICATION_ID: i32 = 0x494D_4544;

/// Migrations in order; `MIGRATIONS[i]` makes version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: directory, cursors, logs and messages.
    "CREATE TABLE users (uid INTEGER PRIMARY KEY);
     CREATE TABLE accounts (
         uid INTEGER PRIMARY KEY,
         mobile TEXT NOT NULL UNIQUE,
         password_hash TEXT NOT NULL,
         nickname TEXT NOT NULL);
     CREATE TABLE friends (a INTEGER NOT NULL, b INTEGER NOT NULL,
         PRIMARY KEY (a, b)) WITHOUT ROWID;
     CREATE TABLE groups (gid INTEGER PRIMARY KEY AUTOINCREMENT,
         name TEXT NOT NULL, owner INTEGER NOT NULL);
     CREATE TABLE members (gid INTEGER NOT NULL, uid INTEGER NOT NULL,
         PRIMARY KEY (gid, uid)) WITHOUT ROWID;
     CREATE INDEX members_by_uid ON members (uid, gid);
     CREATE TABLE cursors (uid INTEGER PRIMARY KEY, inbox INTEGER NOT NULL,
         groups TEXT NOT NULL);
     -- The newest seq ever stored per log, kept when retention has deleted
     -- every message of the log, so numbering never restarts.
     CREATE TABLE logs (kind INTEGER NOT NULL, id INTEGER NOT NULL,
         last_seq INTEGER NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
     CREATE TABLE messages (kind INTEGER NOT NULL, id INTEGER NOT NULL,
         seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, frame BLOB NOT NULL,
         PRIMARY KEY (kind, id, seq)) WITHOUT ROWID;
     -- Age retention finds the oldest messages without a full scan.
     CREATE INDEX messages_by_ts ON messages (ts_ms);",
    // 2: durable seq reservations: seqs a core may deliver live before they
    // are stored; numbering resumes above them after a crash.
    "ALTER TABLE logs ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;",
    // 3: a group's picture and description, as createcommunity takes them.
    "ALTER TABLE groups ADD COLUMN icon TEXT NOT NULL DEFAULT '';
     ALTER TABLE groups ADD COLUMN memo TEXT NOT NULL DEFAULT '';",
    // 4: age retention walks each log's oldest rows instead (see the
    // store's `age` module): the time index cost a page write per message.
    "DROP INDEX messages_by_ts;",
    // 5: messages in arrival order, found through an index per log. Keyed
    // by log, every append landed inside the tree and SQLite's page splits
    // there rewrote three leaves and their parent; appended at the tree's
    // right edge, a message costs its own bytes and a small index entry
    // (measured on 2 vCPUs, 2,000 logs: WAL and checkpoint writes 1,960 to
    // 860 bytes per message, store thread 5.2 to 3.8 µs per message).
    "CREATE TABLE messages_by_arrival (kind INTEGER NOT NULL,
         id INTEGER NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
         frame BLOB NOT NULL);
     INSERT INTO messages_by_arrival (kind, id, seq, ts_ms, frame)
         SELECT kind, id, seq, ts_ms, frame FROM messages ORDER BY kind, id, seq;
     DROP TABLE messages;
     ALTER TABLE messages_by_arrival RENAME TO messages;
     CREATE UNIQUE INDEX messages_by_log ON messages (kind, id, seq);",
    // 6: a commit's messages of one log in one row (see the store's
    // `segment` module), found by the log and the segment's last seq; a
    // message row becomes a segment of one.
    "CREATE TABLE segments (kind INTEGER NOT NULL, id INTEGER NOT NULL,
         first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
         ts_ms INTEGER NOT NULL, frames BLOB NOT NULL);
     INSERT INTO segments (kind, id, first_seq, last_seq, ts_ms, frames)
         SELECT kind, id, seq, seq, ts_ms,
                CAST(unhex(printf('%08X', length(frame))) || frame AS BLOB)
         FROM messages ORDER BY rowid;
     DROP TABLE messages;
     CREATE UNIQUE INDEX segments_by_log ON segments (kind, id, last_seq);",
];

/// The schema version this binary writes and understands.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration above `from`, stamping the version after each.
pub fn migrate(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    migrate_to(conn, from, VERSION)
}

/// Applies the migrations from version `from` up to version `to` (tests
/// build older layouts with it).
pub fn migrate_to(conn: &mut Connection, from: i64, to: i64) -> rusqlite::Result<()> {
    let (from, to) = (from.max(0) as usize, to.max(0) as usize);
    for (i, sql) in MIGRATIONS.iter().enumerate().take(to).skip(from) {
        // Some rewrite every message (version 5): say so, a large file takes a while.
        if from > 0 {
            tracing::info!(version = i + 1, "upgrading the database schema");
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
