//! The send side: per-peer sequence numbers, batching, fragmentation, sealing
//! and the send history that answers NACKs.
//!
//! The daemon hands in items and the time; the outbox hands back sealed
//! [`Datagram`]s to write (into a `Vec` the caller reuses, ready for one
//! `sendmmsg`). A batch leaves when the next item would not fit, when an
//! item of another kind is queued for the same peer (so a peer receives
//! everything in the order it was queued), or at its deadline, `max_delay_ms`
//! after its oldest item: ask [`Outbox::next_deadline`] when to call
//! [`Outbox::due`].

use std::collections::HashMap;

use bytes::Bytes;

use super::batch::Batch;
use super::control::{Heartbeat, Nack, SeqRange};
use super::deliver::DeliverItem;
use super::fragment::{piece_count, Fragment, FRAGMENT_HEADER};
use super::header::{Kind, NodeId};
use super::history::{History, Unanswered};
use super::item::Item;
use super::records::{Presence, Target};
use super::seal::{datagram_buf, Sealer};
use super::settings::{Settings, SettingsError};

/// A sealed datagram for one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The peer to send it to.
    pub peer: NodeId,
    /// Its sequence number (a resend keeps the original one).
    pub seq: u64,
    /// The bytes to send, header to tag.
    pub bytes: Bytes,
}

/// An item the outbox refuses to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A frame with no bytes: no WebSocket frame is empty.
    #[error("empty frame for {0:?}")]
    EmptyFrame(Target),
    /// A frame above the peers' reassembly limit.
    #[error("frame of {len} bytes exceeds the cluster's max_message of {max}")]
    FrameTooLarge {
        /// The frame's size.
        len: usize,
        /// `max_message`.
        max: usize,
    },
    /// A deliver item aimed at [`Target::Submit`], which only fragments of a
    /// submit carry.
    #[error("a deliver item cannot target a submit")]
    SubmitTarget,
    /// An empty forwarded message or reply, or a reply larger than one
    /// datagram body (replies are short and never fragmented).
    #[error("forwarded item of {len} bytes is empty or does not fit one datagram body ({cap})")]
    Unforwardable {
        /// The item's encoded size.
        len: usize,
        /// The largest body.
        cap: usize,
    },
    /// A heartbeat listing more nodes than one datagram holds.
    #[error("heartbeat of {len} bytes exceeds one datagram body ({cap})")]
    HeartbeatTooLarge {
        /// The heartbeat body's size.
        len: usize,
        /// The largest body.
        cap: usize,
    },
}

/// Send state for one peer.
#[derive(Debug)]
struct Link {
    history: History,
    open: Option<Batch>,
}

/// Everything this node sends to its peers.
#[derive(Debug)]
pub struct Outbox {
    sealer: Sealer,
    settings: Settings,
    links: HashMap<NodeId, Link>,
    next_message: u64,
}

impl Outbox {
    /// An outbox sealing with `sealer`, after checking `settings`.
    pub fn new(sealer: Sealer, settings: Settings) -> Result<Outbox, SettingsError> {
        settings.validate()?;
        Ok(Outbox {
            sealer,
            settings,
            links: HashMap::new(),
            next_message: 1,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Queues `item` for `peer` at time `now` (milliseconds), appending any
    /// datagram this completes to `out`: the previous batch when the item
    /// does not join it, or the fragments of a frame too large for one
    /// datagram (after the open batch, to keep the order).
    pub fn push(
        &mut self,
        peer: NodeId,
        item: Item,
        now: u64,
        out: &mut Vec<Datagram>,
    ) -> Result<(), SendError> {
        if let Item::Submit(s) = &item {
            if !s.payload.is_empty() && item.encoded_len() > self.settings.body_cap() {
                let whole = DeliverItem {
                    target: Target::Submit(s.sender),
                    frame: s.whole(),
                };
                return self.fragment(peer, &whole, out);
            }
        }
        if let Item::Deliver(d) = &item {
            if let Target::Submit(_) = d.target {
                return Err(SendError::SubmitTarget);
            }
            if d.frame.is_empty() {
                return Err(SendError::EmptyFrame(d.target));
            }
            if d.frame.len() > self.settings.max_unfragmented() {
                return self.fragment(peer, d, out);
            }
        }
        let cap = self.settings.body_cap();
        let empty = match &item {
            Item::Submit(s) => s.payload.is_empty(),
            Item::Reply(r) => r.frame.is_empty(),
            _ => false,
        };
        if empty || item.encoded_len() > cap {
            let len = item.encoded_len();
            return Err(SendError::Unforwardable { len, cap });
        }
        let link = link(&mut self.links, peer, self.settings.history);
        if link.open.as_ref().is_some_and(|b| !b.fits(&item, cap)) {
            let batch = link.open.take().expect("checked");
            out.push(seal(&self.sealer, link, peer, batch));
        }
        let batch = link
            .open
            .get_or_insert_with(|| Batch::new(item.kind(), cap, now));
        batch.push(&item);
        // Nothing smaller than a presence record fits any more: send it now.
        if cap - batch.body_len() < Presence::LEN.min(DeliverItem::encoded_len(1)) {
            let batch = link.open.take().expect("just filled");
            out.push(seal(&self.sealer, link, peer, batch));
        }
        Ok(())
    }

    /// Seals every batch whose deadline is at or before `now`.
    pub fn due(&mut self, now: u64, out: &mut Vec<Datagram>) {
        let delay = self.settings.max_delay_ms;
        for (&peer, link) in &mut self.links {
            if link
                .open
                .as_ref()
                .is_some_and(|b| b.since.saturating_add(delay) <= now)
            {
                let batch = link.open.take().expect("checked");
                out.push(seal(&self.sealer, link, peer, batch));
            }
        }
    }

    /// When the earliest open batch falls due, if any is open.
    pub fn next_deadline(&self) -> Option<u64> {
        let open = self.links.values().filter_map(|l| l.open.as_ref());
        open.map(|b| b.since.saturating_add(self.settings.max_delay_ms))
            .min()
    }

    /// Seals `peer`'s open batch now, if any (e.g. before a drain).
    pub fn flush(&mut self, peer: NodeId, out: &mut Vec<Datagram>) {
        if let Some(link) = self.links.get_mut(&peer) {
            if let Some(batch) = link.open.take() {
                out.push(seal(&self.sealer, link, peer, batch));
            }
        }
    }

    /// Sends a heartbeat to `peer` at once.
    pub fn heartbeat(
        &mut self,
        peer: NodeId,
        hb: &Heartbeat,
        out: &mut Vec<Datagram>,
    ) -> Result<(), SendError> {
        let (len, cap) = (hb.len(), self.settings.body_cap());
        if len > cap {
            return Err(SendError::HeartbeatTooLarge { len, cap });
        }
        let mut buf = datagram_buf(len);
        hb.put(&mut buf);
        let link = link(&mut self.links, peer, self.settings.history);
        out.push(seal_buf(&self.sealer, link, peer, Kind::Heartbeat, buf));
        Ok(())
    }

    /// Asks `peer` (in its `incarnation`) to resend `ranges`, in as many
    /// datagrams as they need.
    pub fn nack(
        &mut self,
        peer: NodeId,
        incarnation: u64,
        ranges: &[SeqRange],
        out: &mut Vec<Datagram>,
    ) {
        let per = (self.settings.body_cap() - Nack::FIXED_LEN) / SeqRange::LEN;
        for chunk in ranges.chunks(per) {
            let mut buf = datagram_buf(Nack::FIXED_LEN + chunk.len() * SeqRange::LEN);
            Nack::put(incarnation, chunk, &mut buf);
            let link = link(&mut self.links, peer, self.settings.history);
            out.push(seal_buf(&self.sealer, link, peer, Kind::Nack, buf));
        }
    }

    /// Answers `peer`'s NACK with the same datagrams, from the history, and
    /// returns what it could not resend. A NACK for an earlier incarnation of
    /// this node is all expired.
    pub fn resend(&self, peer: NodeId, nack: &Nack, out: &mut Vec<Datagram>) -> Unanswered {
        if nack.incarnation != self.sealer.incarnation() {
            return Unanswered {
                expired: nack.ranges.clone(),
                unsent: Vec::new(),
            };
        }
        let Some(link) = self.links.get(&peer) else {
            return Unanswered {
                expired: Vec::new(),
                unsent: nack.ranges.clone(),
            };
        };
        link.history.answer(&nack.ranges, |seq, bytes| {
            out.push(Datagram {
                peer,
                seq,
                bytes: bytes.clone(),
            })
        })
    }

    /// Drops all state for `peer` (it left the cluster); its open batch is lost.
    pub fn forget(&mut self, peer: NodeId) {
        self.links.remove(&peer);
    }

    fn fragment(
        &mut self,
        peer: NodeId,
        d: &DeliverItem,
        out: &mut Vec<Datagram>,
    ) -> Result<(), SendError> {
        let max = self.settings.max_message;
        let piece_cap = self.settings.piece_cap();
        let count = match piece_count(d.frame.len(), piece_cap) {
            Some(count) if d.frame.len() <= max => count,
            _ => {
                return Err(SendError::FrameTooLarge {
                    len: d.frame.len(),
                    max,
                })
            }
        };
        self.flush(peer, out);
        let message = self.next_message;
        self.next_message += 1;
        let link = link(&mut self.links, peer, self.settings.history);
        for (index, piece) in d.frame.chunks(piece_cap).enumerate() {
            let mut buf = datagram_buf(FRAGMENT_HEADER + piece.len());
            Fragment::put_header(message, index as u16, count, d.target, &mut buf);
            buf.extend_from_slice(piece);
            out.push(seal_buf(&self.sealer, link, peer, Kind::Fragment, buf));
        }
        Ok(())
    }
}

impl Link {
    fn new(history: usize) -> Link {
        Link {
            history: History::new(history),
            open: None,
        }
    }
}

/// `peer`'s send state, created on first use.
fn link(links: &mut HashMap<NodeId, Link>, peer: NodeId, history: usize) -> &mut Link {
    links.entry(peer).or_insert_with(|| Link::new(history))
}

fn seal(sealer: &Sealer, link: &mut Link, peer: NodeId, batch: Batch) -> Datagram {
    seal_buf(sealer, link, peer, batch.kind, batch.buf)
}

/// Seals with the peer's next number and keeps the bytes in its history.
fn seal_buf(
    sealer: &Sealer,
    link: &mut Link,
    peer: NodeId,
    kind: Kind,
    buf: bytes::BytesMut,
) -> Datagram {
    let seq = link.history.next_seq();
    let bytes = sealer.seal(kind, peer, seq, buf);
    link.history.record(seq, bytes.clone());
    Datagram { peer, seq, bytes }
}
