//! Retention by age, log by log, without an index on time.
//!
//! Within a log, seq order is commit order and so time order: a log's
//! expired messages are a prefix of it, found from its first row. The sweep
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
/// Rows deleted per step at most: bounds a step's page writes.
pub const ROWS_PER_STEP: usize = 1000;

/// A log's `(kind, id)`; the sweep's position is the last log it finished.
pub type LogId = (i64, i64);

/// What one step did.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    /// Messages deleted.
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
        // The next log's first (oldest) message.
        let first: Option<(i64, i64, i64, i64)> = tx
            .prepare_cached(
                "SELECT kind, id, seq, ts_ms FROM messages WHERE (kind, id) > (?1, ?2)
                 ORDER BY kind, id, seq LIMIT 1",
            )?
            .query_row(params![at.0, at.1], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((kind, id, oldest, ts)) = first else {
            return Ok(Step {
                deleted,
                next: None,
                full: false,
            });
        };
        if ts < cutoff {
            let (newest, expired): (i64, i64) = tx
                .prepare_cached(
                    "SELECT MAX(seq), MAX(CASE WHEN ts_ms < ?3 THEN seq END)
                     FROM messages WHERE kind = ?1 AND id = ?2",
                )?
                .query_row(params![kind, id, cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let upto = expired.min(oldest + budget as i64 - 1);
            if upto == newest {
                tx.prepare_cached(
                    "INSERT INTO logs (kind, id, last_seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                )?
                .execute(params![kind, id, newest])?;
            }
            let n = tx
                .prepare_cached("DELETE FROM messages WHERE kind = ?1 AND id = ?2 AND seq <= ?3")?
                .execute(params![kind, id, upto])?;
            deleted += n;
            budget -= n.min(budget);
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
