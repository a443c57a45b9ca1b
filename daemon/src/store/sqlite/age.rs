//! Retention by age, log by log, without an index on time.
//!
//! Within a log, seq order is commit order and so time order: a log's
//! expired messages are a prefix of it, found from its first row. A
//! segment's messages share its commit's time, so whole segments expire. The sweep
//! walks the logs in key order, a few per step, and deletes each one's
//! expired prefix. A `(ts_ms)` index would find them faster, but costs an
//! index entry per message written and, worse, a random page per message
//! deleted by count retention (measured: the largest share of the store
//! thread's page writes once logs are full).
//!
//! If the clock steps back, a message stamped later than a newer one of
//! its log is deleted with that newer one's prefix, a little early.

use rusqlite::{params, OptionalExtension, Transaction};

/// Logs looked at per step: bounds a step's seeks when nothing expires.
pub const LOGS_PER_STEP: usize = 1000;
/// Rows (segments) deleted per step at most: bounds a step's page writes.
pub const ROWS_PER_STEP: usize = 1000;

/// A log's `(kind, id)`; the sweep's position is the last log it finished.
pub type LogId = (i64, i64);

/// What one step did.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    /// Messages deleted (segments hold several).
    pub deleted: usize,
    /// Where the next step starts (after this log); `None`: the pass
    /// reached the last log, the next one starts from the first.
    pub next: Option<LogId>,
    /// The row budget ran out, so expired messages may be left.
    pub full: bool,
}

/// Deletes the messages stamped before `cutoff` of up to [`LOGS_PER_STEP`]
/// logs after `after` (from the first log when `None`), at most
/// [`ROWS_PER_STEP`] rows in all. Records a log's last seq in `logs` before
/// deleting its newest message, so numbering never restarts.
pub fn step(tx: &Transaction<'_>, cutoff: i64, after: Option<LogId>) -> rusqlite::Result<Step> {
    let mut at = after.unwrap_or((i64::MIN, i64::MIN));
    let mut budget = ROWS_PER_STEP;
    let mut deleted = 0;
    for _ in 0..LOGS_PER_STEP {
        // The next log's first (oldest) segment.
        let first: Option<(i64, i64, i64)> = tx
            .prepare_cached(
                "SELECT kind, id, ts_ms FROM segments WHERE (kind, id) > (?1, ?2)
                 ORDER BY kind, id, last_seq LIMIT 1",
            )?
            .query_row(params![at.0, at.1], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((kind, id, ts)) = first else {
            return Ok(Step {
                deleted,
                next: None,
                full: false,
            });
        };
        if ts < cutoff {
            let (newest, expired): (i64, i64) = tx
                .prepare_cached(
                    "SELECT MAX(last_seq), MAX(CASE WHEN ts_ms < ?3 THEN last_seq END)
                     FROM segments WHERE kind = ?1 AND id = ?2",
                )?
                .query_row(params![kind, id, cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
            // The budget's last expired segment, if the budget ends first.
            let cut: Option<i64> = tx
                .prepare_cached(
                    "SELECT last_seq FROM segments WHERE kind = ?1 AND id = ?2 AND last_seq <= ?3
                     ORDER BY last_seq LIMIT 1 OFFSET ?4",
                )?
                .query_row(params![kind, id, expired, budget as i64 - 1], |r| r.get(0))
                .optional()?;
            let upto = cut.unwrap_or(expired);
            if upto == newest {
                tx.prepare_cached(
                    "INSERT INTO logs (kind, id, last_seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                )?
                .execute(params![kind, id, newest])?;
            }
            let mut rows = 0;
            let mut st = tx.prepare_cached(
                "DELETE FROM segments WHERE kind = ?1 AND id = ?2 AND last_seq <= ?3
                 RETURNING last_seq - first_seq + 1",
            )?;
            let mut gone = st.query(params![kind, id, upto])?;
            while let Some(r) = gone.next()? {
                rows += 1;
                deleted += r.get::<_, i64>(0)? as usize;
            }
            budget -= rows.min(budget);
            if upto < expired {
                // Out of budget inside this log: the next step resumes here.
                return Ok(Step {
                    deleted,
                    next: after_log(at),
                    full: true,
                });
            }
        }
        at = (kind, id);
        if budget == 0 {
            return Ok(Step {
                deleted,
                next: Some(at),
                full: true,
            });
        }
    }
    Ok(Step {
        deleted,
        next: Some(at),
        full: false,
    })
}

/// `at` as a resume position: the start sentinel resumes from the first log.
fn after_log(at: LogId) -> Option<LogId> {
    (at != (i64::MIN, i64::MIN)).then_some(at)
}
