//! One core's state: its users, its accounting tables, its counters and
//! the buffers it reuses for every read and write.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use super::user::User;
use super::{Ctx, Event, Hists};
use crate::account::{RxTable, TxTable};
use crate::stats::{Counters, Hist};

/// Size of the core's read buffer: every connection reads into it.
pub const READ_BUF: usize = 64 * 1024;

/// Where the run is, as a core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening connections.
    Connecting,
    /// All connected; waiting for Start.
    Ready,
    /// Sending.
    Running,
    /// Not sending; still receiving.
    Draining,
    /// Closing everything.
    Finishing,
}

/// A core: shared by its tasks through `Rc`.
pub struct Core {
    /// Global index of this core (its unit number).
    pub unit: usize,
    /// What every core shares.
    pub ctx: Arc<Ctx>,
    /// Run phase.
    pub phase: Cell<Phase>,
    /// The read buffer of every connection of this core.
    pub rbuf: RefCell<Box<[u8]>>,
    /// Everything mutable.
    pub st: RefCell<State>,
    /// To the coordinator.
    pub events: flume::Sender<Event>,
}

/// The mutable state of a core.
pub struct State {
    /// Its users.
    pub users: Vec<User>,
    /// Local index by user id.
    pub by_uid: HashMap<i64, usize>,
    /// Local indices of the users that send.
    pub senders: Vec<usize>,
    /// Sending streams.
    pub tx: TxTable,
    /// Receiving streams.
    pub rx: RxTable,
    /// Counts.
    pub counters: Counters,
    /// Latencies.
    pub hists: Hists,
    /// Delivery latencies since the last tick.
    pub tick_delivery: Hist,
    /// Connections open.
    pub live: u64,
    /// Users that finished their first connection attempt.
    pub settled: usize,
    /// JSON being built.
    pub scratch: Vec<u8>,
    /// Frame being built.
    pub wbuf: Vec<u8>,
    /// xorshift state for masks, keys and random choices.
    pub rng: u64,
}

impl State {
    /// A fresh state for `users`.
    pub fn new(users: Vec<User>, seed: u64) -> State {
        let by_uid = users.iter().enumerate().map(|(i, u)| (u.uid, i)).collect();
        let senders = (0..users.len()).filter(|&i| users[i].sender).collect();
        State {
            users,
            by_uid,
            senders,
            tx: TxTable::new(),
            rx: RxTable::new(),
            counters: Counters::default(),
            hists: Hists::default(),
            tick_delivery: Hist::default(),
            live: 0,
            settled: 0,
            scratch: Vec::with_capacity(1024),
            wbuf: Vec::with_capacity(1024),
            rng: seed | 1,
        }
    }

    /// The next pseudo-random number (xorshift64*: fast, good enough for
    /// masks and picking recipients).
    pub fn rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniformly random number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.rand() >> 32) * n as u64) >> 32) as usize
    }
}
