//! The receive side: authenticate, place in the peer's replay window, decode,
//! reassemble.
//!
//! [`Receiver::accept`] judges a datagram in this order and refuses it with
//! the first failing [`DropReason`]: size, magic, version, declared length,
//! MAC, destination, known sender, incarnation and replay window, then the
//! body. Nothing from the datagram is trusted before its MAC passes, and no
//! state changes before then. An authentic datagram whose body is malformed
//! still takes its place in the window (it will not be asked for again).
//!
//! Incarnations are start times in Unix milliseconds. A peer first heard
//! with an incarnation later than this node's own started while this node
//! was up, so its numbers are expected from 1 (a lost first datagram is
//! NACKed). One that started earlier is taken from the first number heard:
//! what it sent before went to an earlier life of this node. A later, higher
//! incarnation (the peer restarted) starts a fresh window from 1, and
//! anything from a lower one is a replay.

use std::collections::HashMap;

use bytes::Bytes;

use super::body::Body;
use super::control::{Heartbeat, Nack, SeqRange};
use super::deliver::{DeliverItem, Items};
use super::drop_reason::DropReason;
use super::forward::{Reply, Submit};
use super::header::NodeId;
use super::mac::Key;
use super::reassembly::Reassembly;
use super::records::{Membership, Presence, Target};
use super::seal::open;
use super::settings::{Settings, SettingsError};
use super::window::Window;

/// What an accepted datagram carries, once fragments are put together.
#[derive(Clone, Debug)]
pub enum Payload {
    /// Frames to write to their targets' connections as they are.
    Deliver(Items),
    /// A reassembled large frame, whose last piece this datagram was.
    Frame(DeliverItem),
    /// A piece of a large frame that is not complete yet: nothing to do.
    Pending,
    /// Presence changes for the registry.
    Presence(Vec<Presence>),
    /// Membership changes.
    Membership(Vec<Membership>),
    /// The peer's liveness and view.
    Heartbeat(Heartbeat),
    /// The peer asks for resends: answer with [`Outbox::resend`](super::Outbox::resend).
    Nack(Nack),
    /// Client messages the peer forwarded to this node, their owner's.
    Submit(Vec<Submit>),
    /// Acks and errors for this node's connections.
    Reply(Vec<Reply>),
}

/// An accepted datagram and what it revealed.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The sending peer.
    pub from: NodeId,
    /// The sender's incarnation (for NACKs back to it).
    pub incarnation: u64,
    /// The datagram's sequence number.
    pub seq: u64,
    /// The first datagram of a new incarnation of a peer heard before: it
    /// restarted, and its registry entries here are stale.
    pub restarted: bool,
    /// Sequence numbers this datagram showed missing: NACK them now.
    pub gap: Option<SeqRange>,
    /// Missing numbers that jumped straight past the replay window; their
    /// messages reach the recipients by sync.
    pub unrecoverable: u64,
    /// The content.
    pub payload: Payload,
}

#[derive(Debug)]
struct PeerState {
    /// 0 until the peer is first heard from.
    incarnation: u64,
    window: Window,
}

impl PeerState {
    fn new() -> PeerState {
        PeerState {
            incarnation: 0,
            window: Window::after(0),
        }
    }
}

/// Everything this node receives from its peers.
pub struct Receiver {
    key: Key,
    me: NodeId,
    incarnation: u64,
    peers: HashMap<NodeId, PeerState>,
    reassembly: Reassembly,
    nack_span: u64,
}

impl Receiver {
    /// A receiver for node `me`, started at `incarnation` (its sealer's),
    /// accepting datagrams from `peers`, after checking `settings`.
    pub fn new(
        key: Key,
        me: NodeId,
        incarnation: u64,
        peers: impl IntoIterator<Item = NodeId>,
        settings: &Settings,
    ) -> Result<Receiver, SettingsError> {
        settings.validate()?;
        let mut r = Receiver {
            key,
            me,
            incarnation,
            peers: HashMap::new(),
            reassembly: Reassembly::new(settings),
            nack_span: settings.history as u64,
        };
        r.set_peers(peers);
        Ok(r)
    }

    /// Replaces the set of peers: the state of those kept is kept.
    pub fn set_peers(&mut self, peers: impl IntoIterator<Item = NodeId>) {
        let mut next: HashMap<NodeId, PeerState> = peers
            .into_iter()
            .filter(|&p| p != self.me)
            .map(|p| (p, PeerState::new()))
            .collect();
        for (id, state) in next.iter_mut() {
            if let Some(old) = self.peers.remove(id) {
                *state = old;
            }
        }
        self.peers = next;
    }

    /// Judges one received datagram at time `now` (milliseconds).
    pub fn accept(&mut self, datagram: Bytes, now: u64) -> Result<Accepted, DropReason> {
        let (h, body) = open(&self.key, &datagram)?;
        if h.dest != self.me {
            return Err(DropReason::Misdirected);
        }
        let peer = self
            .peers
            .get_mut(&h.sender)
            .ok_or(DropReason::UnknownPeer)?;
        if h.seq == 0 || h.incarnation == 0 {
            return Err(DropReason::Malformed);
        }
        if h.incarnation < peer.incarnation {
            return Err(DropReason::Replay);
        }
        let restarted = peer.incarnation != 0 && h.incarnation > peer.incarnation;
        if h.incarnation > peer.incarnation {
            let born_while_up = h.incarnation > self.incarnation;
            let floor = if restarted || born_while_up {
                0
            } else {
                h.seq - 1
            };
            *peer = PeerState {
                incarnation: h.incarnation,
                window: Window::after(floor),
            };
        }
        peer.window.check(h.seq).map_err(|_| DropReason::Replay)?;
        let fresh = peer.window.accept(h.seq);
        let payload = match Body::decode(h.kind, body)? {
            Body::Deliver(items) => Payload::Deliver(items),
            Body::Presence(p) => Payload::Presence(p),
            Body::Membership(m) => Payload::Membership(m),
            Body::Heartbeat(hb) => Payload::Heartbeat(hb),
            Body::Nack(n) => Payload::Nack(n),
            Body::Submit(s) => Payload::Submit(s),
            Body::Reply(r) => Payload::Reply(r),
            Body::Fragment(f) => match self.reassembly.add(h.sender, h.incarnation, f, now)? {
                Some(DeliverItem {
                    target: Target::Submit(sender),
                    frame,
                }) => Payload::Submit(vec![Submit::from_whole(sender, frame)?]),
                Some(item) => Payload::Frame(item),
                None => Payload::Pending,
            },
        };
        Ok(Accepted {
            from: h.sender,
            incarnation: h.incarnation,
            seq: h.seq,
            restarted,
            gap: fresh.gap,
            unrecoverable: fresh.unrecoverable,
            payload,
        })
    }

    /// What is still missing from `peer` within the span its history can
    /// answer (`history` datagrams below the highest seen), with the
    /// incarnation to NACK; `None` for an unknown or unheard peer. Call it on
    /// the heartbeat tick to NACK again what a lost NACK or resend left open.
    pub fn missing(&self, peer: NodeId) -> Option<(u64, Vec<SeqRange>)> {
        let p = self.peers.get(&peer).filter(|p| p.incarnation != 0)?;
        Some((p.incarnation, p.window.missing(self.nack_span)))
    }

    /// Drops incomplete fragmented frames whose time is up; returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        self.reassembly.expire(now)
    }

    /// When [`expire`](Self::expire) next has work, if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        self.reassembly.next_deadline()
    }

    /// The reassembly state, for its gauges and counters.
    pub fn reassembly(&self) -> &Reassembly {
        &self.reassembly
    }
}
