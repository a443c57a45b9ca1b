//! The store thread: drains whatever is queued, writes it in one
//! transaction (group commit), commits, then reports each core's tickets in
//! one call. Retention by count runs inside that transaction, for the
//! touched logs past their slack ([`retention`]); retention by age
//! ([`age`]) runs between commits, one bounded step after a commit at
//! most, so a backlog of expired messages never holds the queue for long.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{age, encode_groups, insert, kind_id, retention, Shared};
use crate::fasthash::FastMap;
use crate::store::{thread, Cursor, LogKey, Ticket};

/// Most requests written in one transaction: bounds a commit's latency.
const MAX_BATCH: usize = 8192;
/// How often age retention takes its next step when nothing else is due.
const AGE_EVERY: Duration = Duration::from_secs(1);

/// A request for the store thread.
pub enum Op {
    /// Store one message (the caller already checked its seq follows on).
    Append {
        /// Its log.
        log: LogKey,
        /// Its seq.
        seq: u64,
        /// The frame as delivered live.
        frame: Bytes,
        /// Reported back through the notify callback.
        ticket: Ticket,
    },
    /// Make a seq reservation durable (see [`crate::store::Store::reserve`]).
    Reserve {
        /// Its log.
        log: LogKey,
        /// Seqs up to this one may be shown before they are stored.
        upto: u64,
        /// Reported back through the notify callback.
        ticket: Ticket,
    },
    /// Record a user as known.
    EnsureUser(i64),
    /// Record a delivery cursor.
    SetCursor(i64, Cursor),
    /// Run age retention to the end now and answer with the rows deleted (tests, tools).
    Sweep(std::sync::mpsc::Sender<usize>),
}

/// The store thread's state.
pub struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    /// Last committed seq per log, loaded from `logs` on first use.
    last: FastMap<LogKey, u64>,
    /// Per log, where count retention counts from, loaded on first use:
    /// its oldest stored seq, or the seq its last trim kept from (a
    /// segment across that seq keeps its older messages until the next
    /// trim; reads hide them).
    oldest: FastMap<LogKey, u64>,
    last_age_sweep: Instant,
    /// Where the age sweep's pass stands (the last log it finished).
    age_at: Option<age::LogId>,
    /// Set when a commit failed: some seq shown live may not be stored, so
    /// the reservations must outlive this run.
    failed: bool,
}

impl Writer {
    /// A writer over the checked connection `conn`.
    pub fn new(conn: Connection, shared: Arc<Shared>) -> Writer {
        Writer {
            conn,
            shared,
            last: FastMap::default(),
            oldest: FastMap::default(),
            last_age_sweep: Instant::now(),
            age_at: None,
            failed: false,
        }
    }

    /// Serves `rx` until every sender is gone or a close is asked.
    pub fn run(mut self, rx: flume::Receiver<Op>, closing: thread::Closing) {
        let mut batch = Vec::new();
        loop {
            match thread::next_batch(&rx, AGE_EVERY, MAX_BATCH, &mut batch, &closing) {
                thread::Next::Batch => {}
                thread::Next::Idle => {
                    self.age_step_if_due();
                    continue;
                }
                thread::Next::Closed => break,
            }
            self.write(std::mem::take(&mut batch));
            // Not only when idle: under steady load the queue is never
            // empty, and one step per second (more while behind) is short.
            self.age_step_if_due();
        }
        self.release_reservations();
    }

    /// At an orderly stop every seq taken is stored (or, after a failed
    /// commit, kept reserved): the next start numbers on from the last
    /// stored seq, with no gap. A crash skips this, and the next start
    /// numbers above the reservations instead.
    fn release_reservations(&mut self) {
        if self.failed || self.shared.crashed.load(Ordering::Relaxed) {
            return;
        }
        let released = self
            .conn
            .execute("UPDATE logs SET reserved = 0 WHERE reserved != 0", []);
        if let Err(e) = released {
            tracing::warn!(error = %e, "releasing seq reservations failed; the next start skips them");
        }
    }

    /// Writes one batch in one transaction and reports its tickets.
    fn write(&mut self, batch: Vec<Op>) {
        let mut outcomes: Vec<(Ticket, Result<(), String>)> = Vec::new();
        let mut sweeps = Vec::new();
        let mut cursors = Vec::new();
        // One segment per log touched: its appends in this batch, in seq
        // order (they are queued in that order). A log's last seq in this
        // batch is its segment's last.
        let mut rows: Vec<insert::Row> = Vec::new();
        let mut row_of: FastMap<LogKey, usize> = FastMap::default();
        let mut trimmed = Vec::new();
        let result = (|| -> rusqlite::Result<()> {
            let now = (self.shared.clock)();
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                for op in batch {
                    match op {
                        Op::Append {
                            log,
                            seq,
                            frame,
                            ticket,
                        } => {
                            let batched = row_of.get(&log).map(|&i| rows[i].last_seq() as u64);
                            let last = match batched.or(self.last.get(&log).copied()) {
                                Some(l) => l,
                                None => load_last(&tx, log)?,
                            };
                            if seq != last + 1 {
                                outcomes.push((
                                    ticket,
                                    Err(format!("{log:?}: append seq {seq} after {last}")),
                                ));
                                continue;
                            }
                            let row = *row_of.entry(log).or_insert_with(|| {
                                let (kind, id) = kind_id(log);
                                rows.push(insert::Row {
                                    kind,
                                    id,
                                    first_seq: seq as i64,
                                    frames: Vec::new(),
                                });
                                rows.len() - 1
                            });
                            rows[row].frames.push(frame);
                            outcomes.push((ticket, Ok(())));
                        }
                        Op::Reserve { log, upto, ticket } => {
                            let (k, id) = kind_id(log);
                            tx.prepare_cached(
                                "INSERT INTO logs (kind, id, last_seq, reserved) VALUES (?1, ?2, 0, ?3)
                                 ON CONFLICT (kind, id) DO UPDATE SET reserved = max(reserved, excluded.reserved)",
                            )?
                            .execute(params![k, id, upto as i64])?;
                            outcomes.push((ticket, Ok(())));
                        }
                        Op::EnsureUser(uid) => {
                            tx.prepare_cached("INSERT OR IGNORE INTO users (uid) VALUES (?1)")?
                                .execute([uid])?;
                        }
                        Op::SetCursor(uid, c) => {
                            tx.prepare_cached(
                                "INSERT OR REPLACE INTO cursors (uid, inbox, groups) VALUES (?1, ?2, ?3)",
                            )?
                            .execute(params![uid, c.inbox as i64, encode_groups(&c.groups)])?;
                            cursors.push((uid, c));
                        }
                        Op::Sweep(reply) => sweeps.push(reply),
                    }
                }
                insert::insert(&tx, &rows, now)?;
            }
            let retain = self.shared.retain as u64;
            for (log, &row) in &row_of {
                let last = rows[row].last_seq() as u64;
                // Count retention keeps the newest messages, so a log's last
                // seq stays readable as MAX(last_seq): the logs table is only
                // written where the age sweep may empty a log.
                let oldest = match self.oldest.get(log) {
                    Some(o) => *o,
                    None => load_oldest(&tx, *log, last)?,
                };
                let Some(upto) = retention::trim_upto(oldest, last, retain) else {
                    trimmed.push((*log, oldest));
                    continue;
                };
                let (k, id) = kind_id(*log);
                tx.prepare_cached(
                    "DELETE FROM segments WHERE kind = ?1 AND id = ?2 AND last_seq <= ?3",
                )?
                .execute(params![k, id, upto as i64])?;
                trimmed.push((*log, upto + 1));
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                self.shared.commits.fetch_add(1, Ordering::Relaxed);
                let committed = row_of
                    .iter()
                    .map(|(log, &row)| (*log, rows[row].last_seq() as u64));
                self.last.extend(committed);
                self.oldest.extend(trimmed);
                let mut pending = self.shared.lock_cursors();
                for (uid, c) in cursors {
                    if pending.get(&uid) == Some(&c) {
                        pending.remove(&uid);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed; its appends are reported failed");
                self.failed = true;
                // The callers counted these seqs as taken, and may have shown
                // them live: numbering goes on above what is stored and
                // durably reserved, never back over a seq a client saw.
                for log in row_of.keys() {
                    self.last.remove(log);
                    self.oldest.remove(log);
                    match load_taken(&self.conn, *log) {
                        Ok(taken) => {
                            self.last.insert(*log, taken);
                            self.shared.reset_front(*log, taken);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, ?log, "reloading a log's last seq failed")
                        }
                    }
                }
                for o in &mut outcomes {
                    if o.1.is_ok() {
                        o.1 = Err(format!("commit failed: {e}"));
                    }
                }
            }
        }
        self.report(outcomes);
        for reply in sweeps {
            // A whole pass from the first log, to the end.
            self.age_at = None;
            let mut total = 0;
            while let Ok(step) = self.age_step() {
                total += step.deleted;
                if step.next.is_none() && !step.full {
                    break;
                }
            }
            let _ = reply.send(total);
        }
    }

    /// Calls the notify callback once per core with its outcomes.
    fn report(&self, outcomes: Vec<(Ticket, Result<(), String>)>) {
        thread::report(self.shared.notify(), outcomes);
    }

    /// One age-retention step, if retention by age is on and one is due.
    fn age_step_if_due(&mut self) {
        if self.last_age_sweep.elapsed() < AGE_EVERY {
            return;
        }
        match self.age_step() {
            // Out of budget means more may be waiting: stay due.
            Ok(step) if step.full => {}
            Ok(_) => self.last_age_sweep = Instant::now(),
            Err(e) => {
                tracing::warn!(error = %e, "age retention failed; retrying later");
                self.last_age_sweep = Instant::now();
            }
        }
    }

    /// One step of the age sweep's pass (see [`age::step`]).
    fn age_step(&mut self) -> rusqlite::Result<age::Step> {
        let Some(max_age) = self.shared.max_age_ms else {
            return Ok(age::Step {
                deleted: 0,
                next: None,
                full: false,
            });
        };
        let cutoff = (self.shared.clock)() - max_age;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let step = age::step(&tx, cutoff, self.age_at)?;
        tx.commit()?;
        self.age_at = step.next;
        Ok(step)
    }
}

/// The last seq stored for `log` (0 for a log never written).
pub fn load_last(conn: &Connection, log: LogKey) -> rusqlite::Result<u64> {
    let (k, id) = kind_id(log);
    // The newest stored message, what the age sweep recorded before it
    // deleted a log's last messages, or the reservation a crash left (folded
    // into `last_seq` at open).
    let last: Option<i64> = conn
        .prepare_cached(
            "SELECT max(COALESCE((SELECT MAX(last_seq) FROM segments WHERE kind = ?1 AND id = ?2), 0),
                        COALESCE((SELECT last_seq FROM logs WHERE kind = ?1 AND id = ?2), 0))",
        )?
        .query_row([k, id], |r| r.get(0))
        .optional()?;
    Ok(last.unwrap_or(0) as u64)
}

/// The oldest stored seq of `log`, or `last + 1` when none is stored.
fn load_oldest(conn: &Connection, log: LogKey, last: u64) -> rusqlite::Result<u64> {
    let (k, id) = kind_id(log);
    let oldest: Option<i64> = conn
        .prepare_cached(
            "SELECT first_seq FROM segments WHERE kind = ?1 AND id = ?2 ORDER BY last_seq LIMIT 1",
        )?
        .query_row([k, id], |r| r.get(0))
        .optional()?;
    Ok(oldest.map_or(last + 1, |o| o as u64))
}

/// The highest seq of `log` that may have been shown: stored, or durably
/// reserved in this run. Numbering goes on above it after a failed commit.
fn load_taken(conn: &Connection, log: LogKey) -> rusqlite::Result<u64> {
    let (k, id) = kind_id(log);
    let reserved: Option<i64> = conn
        .prepare_cached("SELECT reserved FROM logs WHERE kind = ?1 AND id = ?2")?
        .query_row([k, id], |r| r.get(0))
        .optional()?;
    Ok(load_last(conn, log)?.max(reserved.unwrap_or(0) as u64))
}
