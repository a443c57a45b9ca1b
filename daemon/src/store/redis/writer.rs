//! The store thread: drains whatever the cores queued, sends it to Redis as
//! one pipeline (one round trip per batch, per node for a cluster), and
//! reports each core's tickets in one callback. It also owns reconnecting:
//! after a failure it retries with a capped, jittered back-off and marks
//! the store up again once Redis answers.
//!
//! Every queued append gets an answer: stored, refused (gap or reuse), or
//! failed because Redis is unreachable. A failed pipeline may still have
//! been applied by Redis before the connection broke; such a message is
//! answered 503 but found by a later sync: an ack is never sent for a
//! message that is not stored, which is the promise that matters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{Cmd, ErrorKind, RedisError, Value};

use super::backoff::{self, Backoff};
use super::conn::{broken, Conn, Target, Timeouts};
use super::{cursor, keys, scripts, Shared};
use crate::store::{thread, Cursor, LogKey, Ticket};

/// Most requests sent in one pipeline: bounds a round trip's size.
const MAX_BATCH: usize = 4096;
/// How often an idle writer checks on a Redis marked down.
const TICK: Duration = Duration::from_millis(50);
/// Directory writes kept for resending after an outage, at most.
const MAX_RETRY: usize = 100_000;

/// A request for the store thread.
pub enum Op {
    /// Store one message (the caller checked its seq against its own view;
    /// the append script checks it against Redis).
    Append {
        /// Its log.
        log: LogKey,
        /// Its seq.
        seq: u64,
        /// The list entry (timestamp and frame, see [`keys::entry`]).
        entry: Vec<u8>,
        /// Reported back through the notify callback.
        ticket: Ticket,
    },
    /// Record a user as known.
    EnsureUser(i64),
    /// Record a delivery cursor.
    SetCursor(i64, Cursor),
}

/// The store thread's state.
pub struct Writer {
    target: Target,
    timeouts: Timeouts,
    conn: Option<Conn>,
    shared: Arc<Shared>,
    backoff: Backoff,
    next_try: Instant,
    /// Directory writes that failed with the connection, sent again first.
    retry: Vec<Op>,
}

type Outcomes = Vec<(Ticket, Result<(), String>)>;

impl Writer {
    /// A writer starting on the connection `conn` (opened and checked by the caller).
    pub fn new(target: Target, timeouts: Timeouts, conn: Conn, shared: Arc<Shared>) -> Writer {
        Writer {
            target,
            timeouts,
            conn: Some(conn),
            shared,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_secs(2)),
            next_try: Instant::now(),
            retry: Vec::new(),
        }
    }

    /// Serves `rx` until every sender is gone or a close is asked.
    pub fn run(mut self, rx: flume::Receiver<Op>, closing: thread::Closing) {
        let mut batch = Vec::new();
        loop {
            match thread::next_batch(&rx, TICK, MAX_BATCH, &mut batch, &closing) {
                thread::Next::Batch => {}
                thread::Next::Idle => {
                    self.probe();
                    continue;
                }
                thread::Next::Closed => break,
            }
            self.write(std::mem::take(&mut batch));
        }
        // Directory writes still owed: one last try, so a clean stop keeps them.
        if !self.retry.is_empty() {
            self.write(Vec::new());
        }
    }

    /// While the store is marked down: reconnects (when the back-off
    /// allows) or checks the open connection, and marks it up on success.
    fn probe(&mut self) {
        if !self.shared.health.is_down() {
            if !self.retry.is_empty() {
                self.write(Vec::new());
            }
            return;
        }
        let Some(c) = self.connection() else {
            return;
        };
        match c.query::<String>(&redis::cmd("PING")) {
            Ok(_) => {
                // Idle pooled connections predate the outage: drop them
                // rather than let each fail once.
                self.shared.pool.clear();
                self.shared.health.mark_up();
            }
            Err(e) => self.lost(&e),
        }
    }

    /// The open connection, or a new one if the back-off allows.
    fn connection(&mut self) -> Option<&mut Conn> {
        if self.conn.is_none() {
            if Instant::now() < self.next_try {
                return None;
            }
            let opened = self.target.connect(self.timeouts).and_then(|mut c| {
                c.load_scripts()?;
                Ok(c)
            });
            match opened {
                Ok(c) => {
                    self.backoff.reset();
                    self.conn = Some(c);
                }
                Err(e) => {
                    self.lost(&e);
                    return None;
                }
            }
        }
        self.conn.as_mut()
    }

    /// Records a broken connection and when to try again.
    fn lost(&mut self, e: &RedisError) {
        self.conn = None;
        self.shared.health.mark_down(e);
        self.next_try = Instant::now() + self.backoff.next(backoff::random());
    }

    /// Sends one batch as one pipeline and reports its tickets.
    fn write(&mut self, batch: Vec<Op>) {
        let mut ops = std::mem::take(&mut self.retry);
        ops.extend(batch);
        if ops.is_empty() {
            return;
        }
        let now = (self.shared.clock)();
        let cmds: Vec<Cmd> = ops.iter().map(|op| self.command(op, now)).collect();
        let result = match self.connection() {
            None => Err(None),
            Some(c) => match c.pipeline(&cmds) {
                // The append script makes a resent pipeline harmless.
                Err(e) if e.kind() == ErrorKind::NoScriptError => c
                    .load_scripts()
                    .and_then(|()| c.pipeline(&cmds))
                    .map_err(Some),
                other => other.map_err(Some),
            },
        };
        let outcomes = match result {
            Ok(values) => self.applied(ops, values),
            Err(e) => {
                let why = match &e {
                    Some(e) => format!("redis: {e}"),
                    None => "redis unreachable (reconnecting)".to_owned(),
                };
                if let Some(e) = e {
                    if broken(&e) {
                        self.lost(&e);
                    } else {
                        tracing::warn!(error = %e, "redis refused a pipeline; its appends are reported failed");
                    }
                }
                self.failed(ops, &why)
            }
        };
        self.report(outcomes);
    }

    /// The Redis command carrying `op`.
    fn command(&self, op: &Op, now: i64) -> Cmd {
        match op {
            Op::Append {
                log, seq, entry, ..
            } => {
                let mut c = redis::cmd("EVALSHA");
                c.arg(scripts::APPEND.get_hash())
                    .arg(3)
                    .arg(keys::log(*log))
                    .arg(keys::last(*log))
                    .arg(keys::reserved(*log))
                    .arg(*seq)
                    .arg(&entry[..])
                    .arg(self.shared.retain)
                    .arg(self.shared.max_age_ms)
                    .arg(now);
                c
            }
            Op::EnsureUser(uid) => {
                let mut c = redis::cmd("HSET");
                c.arg(keys::user(*uid)).arg("known").arg(1);
                c
            }
            Op::SetCursor(uid, cur) => {
                let mut c = redis::cmd("SET");
                c.arg(keys::cursor(*uid)).arg(cursor::encode(cur));
                c
            }
        }
    }

    /// The outcomes of a pipeline Redis answered.
    fn applied(&mut self, ops: Vec<Op>, values: Vec<Value>) -> Outcomes {
        let mut out = Vec::new();
        let mut cursors = self.shared.lock_cursors();
        for (op, v) in ops.into_iter().zip(values) {
            match op {
                Op::Append {
                    log, seq, ticket, ..
                } => match redis::from_owned_redis_value::<(i64, u64)>(v) {
                    Ok((1, _)) => out.push((ticket, Ok(()))),
                    Ok((_, last)) => {
                        // This node's view of the log was wrong (another
                        // node appended, or an earlier append failed):
                        // forget it, the next last_seq reads Redis.
                        self.shared.forget_front(log);
                        out.push((
                            ticket,
                            Err(format!("{log:?}: append seq {seq} after {last}")),
                        ));
                    }
                    Err(e) => {
                        self.shared.forget_front(log);
                        out.push((ticket, Err(format!("redis: unexpected append answer: {e}"))));
                    }
                },
                Op::SetCursor(uid, c) => {
                    if cursors.get(&uid) == Some(&c) {
                        cursors.remove(&uid);
                    }
                }
                Op::EnsureUser(_) => {}
            }
        }
        out
    }

    /// Fails every append of `ops`; keeps the directory writes for later.
    fn failed(&mut self, ops: Vec<Op>, why: &str) -> Outcomes {
        let mut out = Vec::new();
        for op in ops {
            match op {
                Op::Append { log, ticket, .. } => {
                    self.shared.forget_front(log);
                    out.push((ticket, Err(why.to_owned())));
                }
                dir if self.retry.len() < MAX_RETRY => self.retry.push(dir),
                _ => {
                    tracing::warn!("redis outage: a directory write was dropped (retry list full)")
                }
            }
        }
        out
    }

    /// Calls the notify callback once per core with its outcomes.
    fn report(&self, outcomes: Outcomes) {
        thread::report(self.shared.notify(), outcomes);
    }
}
