//! The per-stream tables each core keeps: what its users sent (tx) and what
//! they received (rx). Both are plain maps so that cores and worker
//! processes can ship them to the coordinator, which joins them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::seqset::{Insert, SeqSet};
use crate::proto::Dst;

/// A sending stream: (sender, destination).
pub type TxKey = (i64, Dst);
/// A receiving stream: (receiver, sender, destination).
pub type RxKey = (i64, i64, Dst);

/// What a sender knows of one of its streams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStream {
    /// Sequences 1..=sent were sent.
    pub sent: u32,
    /// Sequences the server refused (cmd 21): not expected anywhere.
    pub rejected: Vec<u32>,
    /// Sequences whose fate the sender never learned (its connection
    /// dropped before the ack): expected nowhere, counted if they arrive.
    pub unresolved: Vec<u32>,
}

/// What a receiver got of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxStream {
    /// The sequences received.
    pub got: SeqSet,
    /// Copies of sequences already received.
    pub dups: u32,
    /// Sequences that arrived after a higher one on the live stream.
    pub late: u32,
    /// Sequences that a sync brought after a higher one had arrived live:
    /// recovered, not reordered by the server.
    pub late_by_sync: u32,
}

impl RxStream {
    /// Records the arrival of `seq`; `by_sync`: it came in a sync replay.
    pub fn record(&mut self, seq: u32, by_sync: bool) -> Insert {
        let r = self.got.insert(u64::from(seq));
        match r {
            Insert::Dup => self.dups += 1,
            Insert::Late if by_sync => self.late_by_sync += 1,
            Insert::Late => self.late += 1,
            Insert::New => {}
        }
        r
    }
}

/// All sending streams of a core (or a whole run, once merged).
pub type TxTable = HashMap<TxKey, TxStream>;
/// All receiving streams of a core (or a whole run, once merged).
pub type RxTable = HashMap<RxKey, RxStream>;
