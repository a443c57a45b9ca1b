//! One core's state: its shard, the sequence counters it owns, its flush
//! list and its scratch buffers. Lives on its own thread; shared by `Rc`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use bytes::Bytes;
use monoio::net::TcpStream;
use slab::Slab;

use super::inbox::CoreMsg;
use super::numbering::{Numbering, Show};
use super::shared::{unix_ms, Shared};
use super::{sys, write};
use crate::metrics::CoreCounters;
use crate::shard::{ConnRef, Shard};
use crate::store::{Appended, LogKey, StoreError, Ticket};
use crate::ws::{close as code, encode};

/// Size of the per-core read buffer every connection reads into.
pub const READ_BUF: usize = 64 * 1024;

/// A handshake in progress: its socket and when it must be done.
pub struct Pending {
    /// The socket, shut down if the deadline passes.
    pub fd: RawFd,
    /// Deadline on the core clock (ms); `u64::MAX` once enforced.
    pub deadline_ms: u64,
}

/// One core's state.
pub struct Core {
    /// This core's index.
    pub id: usize,
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// Connections and indexes.
    pub shard: RefCell<Shard<Rc<TcpStream>>>,
    /// Numbering of the logs this core writes.
    seqs: RefCell<HashMap<LogKey, Numbering>>,
    /// Reservations waiting for the store, by ticket: (log, up to).
    reserving: RefCell<HashMap<u64, (LogKey, u64)>>,
    /// Slab keys with frames to write.
    dirty: RefCell<Vec<u32>>,
    flusher: Cell<Option<Waker>>,
    /// The buffer every connection of this core reads into.
    pub rbuf: RefCell<Box<[u8]>>,
    /// simd-json's reusable parse buffer.
    pub scratch: RefCell<Vec<u8>>,
    /// Handshakes in progress, for the sweeper's deadline.
    pub handshakes: RefCell<Slab<Pending>>,
    /// The listening socket, shut at drain.
    pub listener_fd: Cell<RawFd>,
    /// Set once this core has begun draining.
    pub draining: Cell<bool>,
    /// The time of the current wake: (core clock ms, Unix ms). Read per
    /// message, refreshed once per batch, so the clock is not read per call.
    clock: Cell<(u64, i64)>,
    /// Users known to the store, among those this core owns (users are never
    /// deleted, so a positive answer can be kept).
    known_users: RefCell<HashSet<i64>>,
    /// Messages for other cores, sent as one batch per core by the flusher.
    outbox: RefCell<Vec<Vec<CoreMsg>>>,
    /// Per connected user of this core: the inbox seq up to which every
    /// message was queued to its connections, with no hole. Saved as the
    /// offline-push cursor when its last connection closes, so a message
    /// that missed the user (its commit still pending at connect) is pushed
    /// at the next connect rather than skipped.
    delivered: RefCell<HashMap<i64, u64>>,
    /// Acks waiting for the store to make their message durable, by ticket.
    acks: RefCell<HashMap<u64, PendingAck>>,
    next_ticket: Cell<u64>,
}

/// An ack to send once its message is durable.
struct PendingAck {
    log: LogKey,
    to: ConnRef,
    id: i64,
    seq: u64,
    ts: i64,
}

impl Core {
    /// A fresh core `id`.
    pub fn new(id: usize, shared: Arc<Shared>) -> Self {
        Self {
            id,
            shard: RefCell::new(Shard::new(id as u16)),
            seqs: RefCell::new(HashMap::new()),
            reserving: RefCell::new(HashMap::new()),
            dirty: RefCell::new(Vec::new()),
            flusher: Cell::new(None),
            rbuf: RefCell::new(vec![0; READ_BUF].into_boxed_slice()),
            scratch: RefCell::new(Vec::new()),
            handshakes: RefCell::new(Slab::new()),
            listener_fd: Cell::new(-1),
            draining: Cell::new(false),
            clock: Cell::new((0, 0)),
            known_users: RefCell::new(HashSet::new()),
            acks: RefCell::new(HashMap::new()),
            delivered: RefCell::new(HashMap::new()),
            next_ticket: Cell::new(0),
            outbox: RefCell::new((0..shared.cores()).map(|_| Vec::new()).collect()),
            shared,
        }
    }

    /// Reads the clocks; called once at the start of each batch of work.
    pub fn refresh_clock(&self) {
        self.clock.set((self.shared.now_ms(), unix_ms()));
    }

    /// The core clock (ms since start) as of the last refresh.
    pub fn now_ms(&self) -> u64 {
        self.clock.get().0
    }

    /// Unix time in ms as of the last refresh (the `ts` of messages).
    pub fn unix_ms(&self) -> i64 {
        self.clock.get().1
    }

    /// Whether `uid` is known to the store (positive answers are cached).
    pub fn user_known(&self, uid: i64) -> Result<bool, StoreError> {
        if self.known_users.borrow().contains(&uid) {
            return Ok(true);
        }
        let known = self.shared.store.user_exists(uid)?;
        if known {
            self.known_users.borrow_mut().insert(uid);
        }
        Ok(known)
    }

    /// Starts tracking `uid`'s delivered inbox prefix at `seq` (its cursor).
    pub fn start_delivered(&self, uid: i64, seq: u64) {
        self.delivered.borrow_mut().insert(uid, seq);
    }

    /// Records that inbox `seq` was queued to `uid`'s connections; the prefix
    /// only grows through consecutive seqs.
    pub fn mark_delivered(&self, uid: i64, seq: u64) {
        if let Some(d) = self.delivered.borrow_mut().get_mut(&uid) {
            if seq == *d + 1 {
                *d = seq;
            }
        }
    }

    /// Stops tracking `uid` (its last connection closed); returns its prefix.
    pub fn take_delivered(&self, uid: i64) -> Option<u64> {
        self.delivered.borrow_mut().remove(&uid)
    }

    /// A fresh store ticket for an append made by this core.
    pub fn ticket(&self) -> Ticket {
        let id = self.next_ticket.get() + 1;
        self.next_ticket.set(id);
        Ticket { core: self.id, id }
    }

    /// Remembers to ack (cmd 20) when the store reports `ticket` durable.
    pub fn ack_when_durable(
        &self,
        ticket: u64,
        log: LogKey,
        to: ConnRef,
        id: i64,
        seq: u64,
        ts: i64,
    ) {
        self.acks.borrow_mut().insert(
            ticket,
            PendingAck {
                log,
                to,
                id,
                seq,
                ts,
            },
        );
    }

    /// The store's report on appends of this core: acks for the durable
    /// ones, error 503 for the failed ones (delivered live, but not kept).
    pub fn durable(&self, done: Vec<(u64, Result<(), StoreError>)>) {
        for (ticket, outcome) in done {
            let reservation = self.reserving.borrow_mut().remove(&ticket);
            if let Some((log, upto)) = reservation {
                self.reservation_done(log, upto, outcome);
                continue;
            }
            let Some(p) = self.acks.borrow_mut().remove(&ticket) else {
                continue;
            };
            match outcome {
                Ok(()) if p.id != 0 => self.deliver(p.to, crate::msg::ack_frame(p.id, p.seq, p.ts)),
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(error = %e, seq = p.seq, "append failed after live delivery");
                    // The store moved its view of the log above every seq that
                    // may have been shown; ours must follow, or every later
                    // append to it would be refused as a gap.
                    self.seqs.borrow_mut().remove(&p.log);
                    self.counters().error(503);
                    self.deliver(
                        p.to,
                        crate::msg::error_frame(p.id, 503, "store could not keep the message"),
                    );
                }
            }
        }
    }

    /// Queues `msg` for core `to`; the flusher sends each core's batch at once.
    pub fn send(&self, to: usize, msg: CoreMsg) {
        self.outbox.borrow_mut()[to].push(msg);
        if let Some(w) = self.flusher.take() {
            w.wake();
        }
    }

    /// Hands every queued batch to its core's inbox.
    pub fn flush_outbox(&self) {
        let mut outbox = self.outbox.borrow_mut();
        for (to, batch) in outbox.iter_mut().enumerate() {
            match batch.len() {
                0 => {}
                1 => self.shared.send(to, batch.pop().expect("one message")),
                _ => self.shared.send(to, CoreMsg::Batch(std::mem::take(batch))),
            }
        }
    }

    /// This core's counters.
    pub fn counters(&self) -> &CoreCounters {
        &self.shared.metrics.cores[self.id]
    }

    /// The next sequence number of `log` (not yet taken: see [`Core::commit_seq`]).
    pub fn next_seq(&self, log: LogKey) -> Result<u64, StoreError> {
        if let Some(n) = self.seqs.borrow().get(&log) {
            return Ok(n.last + 1);
        }
        let last = self.shared.store.last_seq(log)?;
        self.seqs.borrow_mut().insert(log, Numbering::new(last));
        Ok(last + 1)
    }

    /// Asks the store for the next reservation of `log` if taking `seq`
    /// makes one due (see [`super::numbering`]); an error means `seq` must
    /// not be taken.
    pub fn reserve_for(&self, log: LogKey, seq: u64) -> Result<(), StoreError> {
        let Some(upto) = self.seqs.borrow().get(&log).and_then(|n| n.due(seq)) else {
            return Ok(());
        };
        let ticket = self.ticket();
        let answer = self.shared.store.reserve(log, upto, ticket)?;
        let ready = {
            let mut seqs = self.seqs.borrow_mut();
            let Some(n) = seqs.get_mut(&log) else {
                return Ok(());
            };
            n.asked = upto;
            match answer {
                Appended::Durable => n.reserved(upto),
                Appended::Pending => {
                    self.reserving.borrow_mut().insert(ticket.id, (log, upto));
                    Vec::new()
                }
            }
        };
        for (seq, show) in ready {
            self.show_now(seq, show);
        }
        Ok(())
    }

    /// Records that `seq` was taken in `log` (handed to the store).
    pub fn commit_seq(&self, log: LogKey, seq: u64) {
        if let Some(n) = self.seqs.borrow_mut().get_mut(&log) {
            n.last = seq;
        }
    }

    /// Delivers `seq` of `log` live now, or once its reservation is durable.
    pub fn show(&self, log: LogKey, seq: u64, show: Show) {
        let now = match self.seqs.borrow_mut().get_mut(&log) {
            Some(n) => n.admit(seq, show),
            None => Some(show),
        };
        if let Some(show) = now {
            self.show_now(seq, show);
        }
    }

    fn show_now(&self, seq: u64, show: Show) {
        match show {
            Show::User { uid, frame } => {
                self.push_user(uid, &frame);
                self.mark_delivered(uid, seq);
            }
            Show::Room { gid, frame, except } => {
                for c in 0..self.shared.cores() {
                    if c == self.id {
                        self.fanout(gid, &frame, except);
                    } else {
                        let frame = frame.clone();
                        self.send(c, CoreMsg::Fanout { gid, frame, except });
                    }
                }
            }
        }
    }

    /// The store's answer to a reservation: release what it covers, or on
    /// failure forget the log's state (its held frames were never shown;
    /// their appends fail with it or are replayed from the store).
    fn reservation_done(&self, log: LogKey, upto: u64, outcome: Result<(), StoreError>) {
        if let Err(e) = outcome {
            tracing::warn!(error = %e, ?log, "seq reservation failed; held frames dropped");
            self.seqs.borrow_mut().remove(&log);
            return;
        }
        let ready = match self.seqs.borrow_mut().get_mut(&log) {
            Some(n) => n.reserved(upto),
            None => return,
        };
        for (seq, show) in ready {
            self.show_now(seq, show);
        }
    }

    /// Queues `frame` for a connection anywhere in the process.
    pub fn deliver(&self, to: ConnRef, frame: Bytes) {
        if to.core as usize == self.id {
            self.push(to, frame);
        } else {
            self.send(to.core as usize, CoreMsg::Deliver { to, frame });
        }
    }

    /// Queues `frame` for a connection of this core.
    pub fn push(&self, to: ConnRef, frame: Bytes) {
        let mut shard = self.shard.borrow_mut();
        if shard.get(to).is_some() {
            self.push_key(&mut shard, to.key, frame);
        }
    }

    /// Queues `frame` for every connection of `uid` on this core.
    pub fn push_user(&self, uid: i64, frame: &Bytes) {
        let mut shard = self.shard.borrow_mut();
        for i in 0..shard.user_keys(uid).len() {
            let key = shard.user_keys(uid)[i];
            self.push_key(&mut shard, key, frame.clone());
        }
    }

    /// Queues a room frame for this core's connections of members of `gid`, except the sender's.
    pub fn fanout(&self, gid: i64, frame: &Bytes, except: ConnRef) {
        let mut shard = self.shard.borrow_mut();
        for i in 0..shard.group_keys(gid).len() {
            let key = shard.group_keys(gid)[i];
            if except.core as usize == self.id && except.key == key {
                continue;
            }
            self.push_key(&mut shard, key, frame.clone());
        }
    }

    fn push_key(&self, shard: &mut Shard<Rc<TcpStream>>, key: u32, frame: Bytes) {
        let bound = self.shared.config.outbound_queue_bytes;
        let Some(c) = shard.by_key_mut(key) else {
            return;
        };
        if c.live.closing_since_ms.is_some() {
            return;
        }
        if c.out.push(frame, bound).is_err() {
            self.counters()
                .slow_consumer_closes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(uid = c.uid, queued = c.out.bytes(), "slow consumer closed");
            c.out.clear_unsent();
            self.close_key(shard, key, code::POLICY, "slow consumer");
            return;
        }
        self.counters()
            .frames_out
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.mark_dirty(shard, key);
    }

    fn mark_dirty(&self, shard: &mut Shard<Rc<TcpStream>>, key: u32) {
        let Some(c) = shard.by_key_mut(key) else {
            return;
        };
        if !c.dirty {
            c.dirty = true;
            self.dirty.borrow_mut().push(key);
            if let Some(w) = self.flusher.take() {
                w.wake();
            }
        }
    }

    /// Sends a close frame after whatever is queued and starts the close grace period.
    pub fn close(&self, r: ConnRef, close_code: u16, reason: &str) {
        let mut shard = self.shard.borrow_mut();
        if shard.get(r).is_some() {
            self.close_key(&mut shard, r.key, close_code, reason);
        }
    }

    fn close_key(&self, shard: &mut Shard<Rc<TcpStream>>, key: u32, close_code: u16, reason: &str) {
        let now = self.now_ms();
        let Some(c) = shard.by_key_mut(key) else {
            return;
        };
        if c.live.closing_since_ms.is_some() {
            return;
        }
        c.live.closing_since_ms = Some(now);
        let _ = c.out.push(encode::close(close_code, reason), usize::MAX);
        self.counters().close(close_code);
        self.mark_dirty(shard, key);
    }

    /// Takes the flush list, or parks the flusher until there is one.
    pub fn poll_dirty(
        &self,
        cx: &mut std::task::Context<'_>,
        into: &mut Vec<u32>,
    ) -> std::task::Poll<()> {
        self.flush_outbox();
        let mut dirty = self.dirty.borrow_mut();
        if dirty.is_empty() {
            self.flusher.set(Some(cx.waker().clone()));
            return std::task::Poll::Pending;
        }
        std::mem::swap(&mut *dirty, into);
        std::task::Poll::Ready(())
    }

    /// Starts the drain: no more accepts, every connection closed with 1001 after its queued frames.
    pub fn drain(self: &Rc<Self>) {
        if self.draining.replace(true) {
            return;
        }
        sys::stop_listening(self.listener_fd.get());
        let keys: Vec<u32> = self.shard.borrow_mut().iter_mut().map(|(k, _)| k).collect();
        let mut shard = self.shard.borrow_mut();
        for key in keys {
            self.close_key(&mut shard, key, code::GOING_AWAY, "server shutting down");
        }
    }

    /// Writes what is queued for `key` now (called by the flusher and by write waiters).
    pub fn flush_key(self: &Rc<Self>, key: u32) {
        write::flush(self, key);
    }

    /// The fd of a connection, for raw calls.
    pub fn fd_of(stream: &TcpStream) -> RawFd {
        stream.as_raw_fd()
    }
}
