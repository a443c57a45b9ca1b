//! Putting fragmented frames back together, in bounded memory and time.
//!
//! Pieces are copied out of their datagrams (a piece kept as a slice would
//! pin its whole receive buffer), so the bytes held are the bytes counted.
//! When holding a new piece would pass `max_pending`, the incomplete frame
//! that started earliest is evicted; a frame still incomplete
//! `reassembly_timeout_ms` after its first piece is dropped by
//! [`Reassembly::expire`]. Either way the recipient sees a seq gap and syncs.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use super::deliver::DeliverItem;
use super::drop_reason::DropReason;
use super::fragment::Fragment;
use super::header::NodeId;
use super::records::Target;
use super::settings::Settings;

/// Bookkeeping bytes counted per held piece besides its bytes.
const PIECE_OVERHEAD: usize = 48;

/// A fragmented frame, identified by sender, sender incarnation and message id.
type MessageKey = (NodeId, u64, u64);

struct Partial {
    target: Target,
    count: u16,
    /// Received pieces, sorted by index.
    pieces: Vec<(u16, Bytes)>,
    /// Piece bytes received (checked against `max_message`).
    bytes: usize,
    /// Bytes counted against `max_pending`.
    held: usize,
    deadline: u64,
}

/// Incomplete fragmented frames from every peer.
pub struct Reassembly {
    max_message: usize,
    max_pending: usize,
    timeout_ms: u64,
    partials: HashMap<MessageKey, Partial>,
    pending: usize,
    timed_out: u64,
    evicted: u64,
}

impl Reassembly {
    /// Empty, with the bounds of `settings`.
    pub fn new(settings: &Settings) -> Reassembly {
        Reassembly {
            max_message: settings.max_message,
            max_pending: settings.max_pending,
            timeout_ms: settings.reassembly_timeout_ms,
            partials: HashMap::new(),
            pending: 0,
            timed_out: 0,
            evicted: 0,
        }
    }

    /// Takes one authenticated, fresh piece; returns the frame once its last
    /// piece arrives. A piece that disagrees with its frame's earlier pieces
    /// (target, count) is malformed; a duplicate index is ignored.
    pub fn add(
        &mut self,
        from: NodeId,
        incarnation: u64,
        frag: Fragment,
        now: u64,
    ) -> Result<Option<DeliverItem>, DropReason> {
        let key = (from, incarnation, frag.message);
        let bytes = match self.partials.get(&key) {
            Some(p) if p.target != frag.target || p.count != frag.count => {
                return Err(DropReason::Malformed)
            }
            Some(p) if p.pieces.binary_search_by_key(&frag.index, |e| e.0).is_ok() => {
                return Ok(None)
            }
            Some(p) => p.bytes + frag.piece.len(),
            None => frag.piece.len(),
        };
        if bytes > self.max_message {
            self.remove(&key);
            return Err(DropReason::TooLarge);
        }
        if frag.count == 1 {
            return Ok(Some(DeliverItem {
                target: frag.target,
                frame: frag.piece,
            }));
        }
        let cost = frag.piece.len() + PIECE_OVERHEAD;
        while self.pending + cost > self.max_pending {
            let Some(oldest) = self.oldest_except(&key) else {
                break;
            };
            self.remove(&oldest);
            self.evicted += 1;
        }
        if self.pending + cost > self.max_pending {
            // Only this frame's own pieces are held and they fill the budget.
            self.remove(&key);
            return Err(DropReason::TooLarge);
        }
        let deadline = now.saturating_add(self.timeout_ms);
        let p = self.partials.entry(key).or_insert_with(|| Partial {
            target: frag.target,
            count: frag.count,
            pieces: Vec::new(),
            bytes: 0,
            held: 0,
            deadline,
        });
        let at = p
            .pieces
            .binary_search_by_key(&frag.index, |e| e.0)
            .unwrap_err();
        p.pieces
            .insert(at, (frag.index, Bytes::copy_from_slice(&frag.piece)));
        p.bytes = bytes;
        p.held += cost;
        self.pending += cost;
        if p.pieces.len() < usize::from(p.count) {
            return Ok(None);
        }
        let p = self.remove(&key).expect("just completed");
        let mut frame = BytesMut::with_capacity(p.bytes);
        for (_, piece) in &p.pieces {
            frame.extend_from_slice(piece);
        }
        Ok(Some(DeliverItem {
            target: p.target,
            frame: frame.freeze(),
        }))
    }

    /// Drops the frames whose time is up; returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        let before = self.partials.len();
        let mut freed = 0;
        self.partials.retain(|_, p| {
            let keep = p.deadline > now;
            if !keep {
                freed += p.held;
            }
            keep
        });
        self.pending -= freed;
        let n = before - self.partials.len();
        self.timed_out += n as u64;
        n
    }

    /// When [`expire`](Self::expire) next has work, if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        self.partials.values().map(|p| p.deadline).min()
    }

    /// Incomplete frames held.
    pub fn pending_messages(&self) -> usize {
        self.partials.len()
    }

    /// Bytes counted against `max_pending`.
    pub fn pending_bytes(&self) -> usize {
        self.pending
    }

    /// Incomplete frames dropped by [`expire`](Self::expire) so far.
    pub fn timed_out(&self) -> u64 {
        self.timed_out
    }

    /// Incomplete frames evicted for memory so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn oldest_except(&self, key: &MessageKey) -> Option<MessageKey> {
        let others = self.partials.iter().filter(|(k, _)| *k != key);
        others.min_by_key(|(_, p)| p.deadline).map(|(k, _)| *k)
    }

    fn remove(&mut self, key: &MessageKey) -> Option<Partial> {
        let p = self.partials.remove(key)?;
        self.pending -= p.held;
        Some(p)
    }
}
