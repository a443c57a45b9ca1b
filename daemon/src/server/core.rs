//! One core's state: its shard, the sequence counters it owns, its flush
//! list and its scratch buffers. Lives on its own thread; shared by `Rc`.

use crate::fasthash::FastMap;
use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use bytes::Bytes;
use monoio::net::TcpStream;
use slab::Slab;

use super::awaiting::Awaiting;
use super::carried::Carried;
use super::gate::{Inbound, Waiting, MAX_WAITING, MAX_WAITING_BYTES};
use super::held::Held;
use super::inbox::CoreMsg;
use super::known::Known;
use super::numbering::{Numbering, Show};
use super::origin::Origin;
use super::presence::{self, Registry};
use super::shared::{unix_ms, Shared};
use super::{sys, write};
use crate::cluster::wire::{Item, Reply, Target};
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
    seqs: RefCell<FastMap<LogKey, Numbering>>,
    /// Reservations waiting for the store, by ticket: (log, up to).
    reserving: RefCell<FastMap<u64, (LogKey, u64)>>,
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
    /// Positive store answers (users, groups, memberships) this core keeps
    /// so the common message path never asks the store.
    pub known: RefCell<Known>,
    /// Per log with a store read in progress, the messages waiting behind it.
    gate: RefCell<FastMap<LogKey, Waiting>>,
    /// Messages for other cores, sent as one batch per core by the flusher.
    outbox: RefCell<Vec<Vec<CoreMsg>>>,
    /// Per connected user of this core: the inbox seq up to which every
    /// message was queued to its connections, with no hole. Saved as the
    /// offline-push cursor when its last connection closes, so a message
    /// that missed the user (its commit still pending at connect) is pushed
    /// at the next connect rather than skipped.
    delivered: RefCell<FastMap<i64, u64>>,
    /// Connections with a replay running, by slab key: what waits behind it.
    pub(super) replays: RefCell<FastMap<u32, Held>>,
    /// What finished replays carried, so a late live frame is not sent twice.
    pub(super) carried: RefCell<Carried>,
    /// Users whose cursor is being saved off the core: their next offline
    /// push waits for it (the channel closes when the save is done).
    pub(super) saving: RefCell<FastMap<i64, flume::Receiver<()>>>,
    /// Users with connections being set up (their groups being read off the
    /// core): how many, and the membership changes that came meanwhile,
    /// applied once they are registered.
    setups: RefCell<FastMap<i64, Setup>>,
    /// Acks waiting for the store to make their message durable, by ticket.
    acks: RefCell<FastMap<u64, PendingAck>>,
    /// Messages this core's connections sent that another node keeps,
    /// waiting for its answer.
    pub awaiting: RefCell<Awaiting>,
    /// The other nodes with connections for the users and groups this core keeps.
    pub registry: RefCell<Registry>,
    next_ticket: Cell<u64>,
}

/// A user's connections being set up: how many, and the (gid, joined)
/// membership changes that came meanwhile.
type Setup = (usize, Vec<(i64, bool)>);

/// An ack to send once its message is durable.
pub struct PendingAck {
    /// The message's log.
    pub log: LogKey,
    /// Where the ack goes.
    pub to: Origin,
    /// The client's message id.
    pub id: i64,
    /// The message's seq.
    pub seq: u64,
    /// Its timestamp (ms).
    pub ts: i64,
    /// The live delivery, when the store shows nothing before its commit
    /// (see [`crate::store::Store::shows_after_commit`]).
    pub show: Option<Show>,
}

impl Core {
    /// A fresh core `id`.
    pub fn new(id: usize, shared: Arc<Shared>) -> Self {
        Self {
            id,
            shard: RefCell::new(Shard::new(id as u16)),
            seqs: RefCell::new(FastMap::default()),
            reserving: RefCell::new(FastMap::default()),
            dirty: RefCell::new(Vec::new()),
            flusher: Cell::new(None),
            rbuf: RefCell::new(vec![0; READ_BUF].into_boxed_slice()),
            scratch: RefCell::new(Vec::new()),
            handshakes: RefCell::new(Slab::new()),
            listener_fd: Cell::new(-1),
            draining: Cell::new(false),
            clock: Cell::new((0, 0)),
            known: RefCell::new(Known::default()),
            gate: RefCell::new(FastMap::default()),
            replays: RefCell::new(FastMap::default()),
            carried: RefCell::new(Carried::default()),
            saving: RefCell::new(FastMap::default()),
            setups: RefCell::new(FastMap::default()),
            acks: RefCell::new(FastMap::default()),
            awaiting: RefCell::new(Awaiting::default()),
            registry: RefCell::new(Registry::default()),
            delivered: RefCell::new(FastMap::default()),
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

    /// Whether a store read for `log` is in progress (its messages wait).
    pub fn gate_busy(&self, log: LogKey) -> bool {
        let gate = self.gate.borrow();
        !gate.is_empty() && gate.contains_key(&log)
    }

    /// Queues `m` behind `log`'s store read: `Ok(true)` when it is the first
    /// (the caller starts the read), `Err(m)` when too many wait already.
    pub fn gate_wait(&self, log: LogKey, m: Inbound) -> Result<bool, Inbound> {
        let mut gate = self.gate.borrow_mut();
        let first = !gate.contains_key(&log);
        let waiting = gate.entry(log).or_default();
        if waiting.queue.len() >= MAX_WAITING || waiting.bytes + m.payload.len() > MAX_WAITING_BYTES
        {
            return Err(m);
        }
        waiting.bytes += m.payload.len();
        waiting.queue.push_back(m);
        Ok(first)
    }

    /// Whether messages wait for a store read on this core.
    pub fn gate_waits(&self) -> bool {
        !self.gate.borrow().is_empty()
    }

    /// The next message waiting for `log`, or `None` (and the log is free).
    pub fn gate_next(&self, log: LogKey) -> Option<Inbound> {
        let mut gate = self.gate.borrow_mut();
        let next = gate.get_mut(&log).and_then(|w| {
            let m = w.queue.pop_front()?;
            w.bytes -= m.payload.len();
            Some(m)
        });
        if next.is_none() {
            gate.remove(&log);
        }
        next
    }

    /// Notes that a connection of `uid` is being set up: membership changes
    /// from now on are kept for it (see [`Core::setup_done`]).
    pub fn setup_started(&self, uid: i64) {
        self.setups.borrow_mut().entry(uid).or_default().0 += 1;
    }

    /// Ends a set-up begun by [`Core::setup_started`]: the membership changes
    /// of `uid` since (at least) then, in order, to apply to its connections.
    pub fn setup_done(&self, uid: i64) -> Vec<(i64, bool)> {
        let mut setups = self.setups.borrow_mut();
        let Some(s) = setups.get_mut(&uid) else {
            return Vec::new();
        };
        s.0 -= 1;
        if s.0 == 0 {
            setups.remove(&uid).map(|s| s.1).unwrap_or_default()
        } else {
            s.1.clone()
        }
    }

    /// Re-indexes `uid`'s connections after it joined or left `gid`, and
    /// keeps the change for its connections still being set up.
    pub fn membership(&self, uid: i64, gid: i64, joined: bool) {
        if let Some(s) = self.setups.borrow_mut().get_mut(&uid) {
            s.1.push((gid, joined));
        }
        let mut shard = self.shard.borrow_mut();
        if joined {
            shard.join(uid, gid)
        } else {
            shard.leave(uid, gid)
        }
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

    /// Remembers to send `ack` (cmd 20), and to show its `show` live first
    /// if given, when the store reports `ticket` durable.
    pub fn ack_when_durable(&self, ticket: u64, ack: PendingAck) {
        self.acks.borrow_mut().insert(ticket, ack);
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
                Ok(()) => {
                    // A log's appends are reported in seq order: so are these shows.
                    if let Some(show) = p.show {
                        self.show_now(p.seq, show);
                    }
                    if super::dispatch::wants_ack(p.to, p.id) {
                        self.reply(p.to, crate::msg::ack_frame(p.id, p.seq, p.ts));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, seq = p.seq, "append failed");
                    // The store moved its view of the log above every seq that
                    // may have been shown; ours must follow, or every later
                    // append to it would be refused as a gap.
                    self.seqs.borrow_mut().remove(&p.log);
                    self.counters().error(503);
                    self.reply(
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

    /// Stops numbering the logs another node keeps now (a peer came up or
    /// went down): when this node keeps one again, it reads the log's last
    /// seq from the store rather than trust what it knew.
    pub fn forget_logs_moved(&self) {
        let Some(cluster) = &self.shared.cluster else {
            return;
        };
        self.seqs.borrow_mut().retain(|log, _| {
            let id = match *log {
                LogKey::Inbox(id) | LogKey::Group(id) => id,
            };
            let kept = cluster.keeper_of(id) == super::cluster::Owner::Local;
            if !kept {
                self.shared.store.forget(*log);
            }
            kept
        });
    }

    /// Whether this core numbers `log` already (knows its last seq).
    pub fn numbered(&self, log: LogKey) -> bool {
        self.seqs.borrow().contains_key(&log)
    }

    /// Starts numbering `log` after `last`, as the store reported it, unless
    /// it is numbered already (this core's own count is then the newer).
    pub fn start_numbering(&self, log: LogKey, last: u64) {
        self.seqs
            .borrow_mut()
            .entry(log)
            .or_insert_with(|| Numbering::new(last));
    }

    /// The next sequence number of `log` (not yet taken: see
    /// [`Core::commit_seq`]); `None` until its numbering is started.
    pub fn next_seq(&self, log: LogKey) -> Option<u64> {
        self.seqs.borrow().get(&log).map(|n| n.last + 1)
    }

    /// Asks the store for the next reservation of `log` if taking `seq`
    /// makes one due (see [`super::numbering`]); an error means `seq` must
    /// not be taken.
    pub fn reserve_for(&self, log: LogKey, seq: u64) -> Result<(), StoreError> {
        if self.shared.store.shows_after_commit() {
            // Nothing is shown before it is stored: nothing to reserve.
            return Ok(());
        }
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
                // A frame held behind a replay counts once it is released.
                if self.push_user(uid, &frame, Some(seq)) {
                    self.mark_delivered(uid, seq);
                }
                presence::relay(self, Target::User(uid), &frame, None);
            }
            Show::Room {
                gid,
                frame,
                except,
                skip,
            } => {
                presence::relay(self, Target::Group(gid), &frame, skip);
                self.fanout_all(gid, &frame, except, Some(seq));
            }
        }
    }

    /// Queues `frame` for the members of `gid` connected to any core of
    /// this node, except the connection `except`; `seq` as for [`Core::fanout`].
    pub fn fanout_all(&self, gid: i64, frame: &Bytes, except: ConnRef, seq: Option<u64>) {
        for c in 0..self.shared.cores() {
            if c == self.id {
                self.fanout(gid, frame, except, seq);
            } else {
                let frame = frame.clone();
                self.send(
                    c,
                    CoreMsg::Fanout {
                        gid,
                        frame,
                        except,
                        seq,
                    },
                );
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

    /// Sends an ack or error to the sender of a message: a connection of
    /// this process, or through the cluster to the peer that forwarded it.
    pub fn reply(&self, to: Origin, frame: Bytes) {
        match to {
            Origin::Local(c) => self.deliver(c, frame),
            Origin::Peer { node, conn } => match &self.shared.cluster {
                Some(cluster) => cluster.send(node, Item::Reply(Reply { conn, frame })),
                None => tracing::warn!(node, "a reply for a peer, but no cluster"),
            },
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

    /// Queues `frame` for a connection of this core (behind its replay, if one runs).
    pub fn push(&self, to: ConnRef, frame: Bytes) {
        let mut shard = self.shard.borrow_mut();
        if shard.get(to).is_some() {
            self.push_key(&mut shard, to.key, &frame, None);
        }
    }

    /// Queues inbox message `seq` for every connection of `uid` on this
    /// core (`None`: a frame relayed from another node, untracked); true if
    /// one got it at once (not held behind a replay).
    pub fn push_user(&self, uid: i64, frame: &Bytes, seq: Option<u64>) -> bool {
        let mut shard = self.shard.borrow_mut();
        let tag = seq.map(|s| (LogKey::Inbox(uid), s));
        let mut queued = false;
        for i in 0..shard.user_keys(uid).len() {
            let key = shard.user_keys(uid)[i];
            queued |= self.push_key(&mut shard, key, frame, tag);
        }
        queued
    }

    /// Queues room message `seq` (`None`: relayed from another node) for
    /// this core's connections of members of `gid`, except the sender's.
    pub fn fanout(&self, gid: i64, frame: &Bytes, except: ConnRef, seq: Option<u64>) {
        let mut shard = self.shard.borrow_mut();
        let tag = seq.map(|s| (LogKey::Group(gid), s));
        for i in 0..shard.group_keys(gid).len() {
            let key = shard.group_keys(gid)[i];
            if except.core as usize == self.id && except.key == key {
                continue;
            }
            self.push_key(&mut shard, key, frame, tag);
        }
    }

    /// Queues `frame` for `key`, or holds it behind the connection's
    /// replay; true if it was queued (or a replay carried it already).
    fn push_key(
        &self,
        shard: &mut Shard<Rc<TcpStream>>,
        key: u32,
        frame: &Bytes,
        tag: Option<(LogKey, u64)>,
    ) -> bool {
        if let Some((log, seq)) = tag {
            let mut carried = self.carried.borrow_mut();
            // Most pushes find nothing watched: checked first, cheaply.
            if !carried.is_empty() && carried.already(key, log, seq) {
                return true;
            }
        }
        let holding = {
            let replays = self.replays.borrow();
            // Most pushes find no replay at all: checked first, cheaply.
            !replays.is_empty()
                && replays
                    .get(&key)
                    .is_some_and(|h| shard.get(h.conn).is_some())
        };
        if !holding {
            return self.queue_key(shard, key, frame);
        }
        let bound = self.shared.config.outbound_queue_bytes / 2;
        let held = self
            .replays
            .borrow_mut()
            .get_mut(&key)
            .is_some_and(|h| h.hold(tag, frame.clone(), bound).is_ok());
        if !held {
            tracing::info!(key, "frames held behind a replay overflowed: slow consumer");
            self.slow_consumer(shard, key);
        }
        false
    }

    fn slow_consumer(&self, shard: &mut Shard<Rc<TcpStream>>, key: u32) {
        let Some(c) = shard.by_key_mut(key) else {
            return;
        };
        self.counters()
            .slow_consumer_closes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(uid = c.uid, queued = c.out.bytes(), "slow consumer closed");
        c.out.clear_unsent();
        self.close_key(shard, key, code::POLICY, "slow consumer");
    }

    /// Queues `frame` on `key`'s outbound queue; true if queued.
    pub(super) fn queue_key(
        &self,
        shard: &mut Shard<Rc<TcpStream>>,
        key: u32,
        frame: &Bytes,
    ) -> bool {
        let bound = self.shared.config.outbound_queue_bytes;
        let Some(c) = shard.by_key_mut(key) else {
            return false;
        };
        if c.live.closing_since_ms.is_some() {
            return false;
        }
        if c.out.push(frame, bound).is_err() {
            self.counters()
                .slow_consumer_closes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(uid = c.uid, queued = c.out.bytes(), "slow consumer closed");
            c.out.clear_unsent();
            self.close_key(shard, key, code::POLICY, "slow consumer");
            return false;
        }
        self.counters().frame_out();
        self.mark_dirty(shard, key);
        true
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
        let _ = c.out.push(&encode::close(close_code, reason), usize::MAX);
        self.counters().close(close_code);
        self.mark_dirty(shard, key);
    }

    /// Takes the flush list, or parks the flusher until there is one.
    pub fn poll_dirty(
        &self,
        cx: &mut std::task::Context<'_>,
        into: &mut Vec<u32>,
    ) -> std::task::Poll<()> {
        self.take_dirty(into);
        if into.is_empty() {
            self.flusher.set(Some(cx.waker().clone()));
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(())
    }

    /// Adds the connections queued for since the last pass to `into`, and
    /// hands the other cores their batches.
    pub fn take_dirty(&self, into: &mut Vec<u32>) {
        self.flush_outbox();
        into.append(&mut self.dirty.borrow_mut());
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
