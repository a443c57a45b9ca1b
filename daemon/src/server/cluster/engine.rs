//! One node's side of the cluster protocol, sans-IO: items, datagrams and
//! the time in; datagrams to send, inbound items and the live view out.
//!
//! It ties the wire layer's [`Outbox`] and [`Receiver`] to [`Liveness`]:
//! every accepted datagram proves its sender alive, a gap is NACKed at once
//! and again on every heartbeat tick while it stays open, a NACK is answered
//! from the send history, and every outcome is counted in [`Stats`].

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;

use crate::cluster::wire::{
    Datagram, DeliverItem, Heartbeat, Item, Key, Membership, Nack, NodeId, Outbox, Payload,
    Presence, Receiver, Reply, Sealer, Settings, Submit,
};

use super::liveness::{Change, Liveness};
use super::stats::Stats;
use super::view::View;

/// Where received items go: the cores, once routing is wired.
pub trait Inbound {
    /// A frame for a user's or a group's connections on this node.
    fn deliver(&mut self, item: DeliverItem);
    /// A presence change reported by node `from`.
    fn presence(&mut self, from: NodeId, record: Presence);
    /// A membership change reported by node `from`.
    fn membership(&mut self, from: NodeId, record: Membership);
    /// A client's message node `from` forwarded to this node, the owner of
    /// its recipient.
    fn submit(&mut self, from: NodeId, submit: Submit);
    /// An ack or error for one of this node's connections.
    fn reply(&mut self, reply: Reply);
}

/// Timing of heartbeats and of the down verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Interval between heartbeats (and NACK retries), in milliseconds.
    pub heartbeat_ms: u64,
    /// Intervals of silence after which a peer is down.
    pub misses: u32,
}

/// The protocol state of this node towards all its peers.
pub struct Engine {
    outbox: Outbox,
    receiver: Receiver,
    liveness: Liveness,
    view: Arc<View>,
    stats: Arc<Stats>,
    digest: u64,
    changes: Vec<Change>,
    /// Peer changes not yet taken by [`Engine::take_events`].
    events: Vec<Change>,
    /// When (ms) every live peer has had the time to be heard.
    settle_at: u64,
}

impl Engine {
    /// An engine for `view.me()` in its `incarnation` (start time in Unix
    /// ms), with every other node of the view as a peer. `digest` is the
    /// cluster configuration's, sent in heartbeats and compared.
    pub fn new(
        key: Key,
        settings: Settings,
        incarnation: u64,
        digest: u64,
        timing: Timing,
        view: Arc<View>,
        stats: Arc<Stats>,
    ) -> Result<Engine, crate::cluster::wire::settings::SettingsError> {
        let me = view.me();
        let peers: Vec<NodeId> = view.ids().iter().copied().filter(|&n| n != me).collect();
        let sealer = Sealer::new(key.clone(), me, incarnation);
        Ok(Engine {
            outbox: Outbox::new(sealer, settings.clone())?,
            receiver: Receiver::new(key, me, incarnation, peers.iter().copied(), &settings)?,
            liveness: Liveness::new(peers, timing.heartbeat_ms, timing.misses),
            view,
            stats,
            digest,
            changes: Vec::new(),
            events: Vec::new(),
            settle_at: timing.heartbeat_ms.saturating_mul(u64::from(timing.misses)),
        })
    }

    /// Queues `item` for `peer`, appending any datagram completed to `out`.
    pub fn push(&mut self, peer: NodeId, item: Item, now: u64, out: &mut Vec<Datagram>) {
        self.stats.items_out.fetch_add(1, Relaxed);
        if let Err(e) = self.outbox.push(peer, item, now, out) {
            self.stats.send_errors.fetch_add(1, Relaxed);
            tracing::warn!(peer, error = %e, "cluster item refused");
        }
    }

    /// Seals every batch due at `now`.
    pub fn due(&mut self, now: u64, out: &mut Vec<Datagram>) {
        self.outbox.due(now, out);
    }

    /// When [`Engine::due`] or the reassembly expiry next has work.
    pub fn next_deadline(&self) -> Option<u64> {
        match (self.outbox.next_deadline(), self.receiver.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Judges one received datagram: drops are counted, items go to
    /// `inbound`, NACKs and resends are appended to `out`.
    pub fn receive(
        &mut self,
        datagram: Bytes,
        now: u64,
        out: &mut Vec<Datagram>,
        inbound: &mut impl Inbound,
    ) {
        let len = datagram.len() as u64;
        let a = match self.receiver.accept(datagram, now) {
            Ok(a) => a,
            Err(reason) => {
                self.stats.count_drop(reason);
                tracing::debug!(%reason, "cluster datagram dropped");
                return;
            }
        };
        if let Some(p) = self.stats.peer(a.from) {
            p.datagrams_in.fetch_add(1, Relaxed);
            p.bytes_in.fetch_add(len, Relaxed);
        }
        if let Some(change) = self.liveness.heard(a.from, now) {
            self.apply(change);
        }
        if a.restarted {
            tracing::info!(
                peer = a.from,
                incarnation = a.incarnation,
                "cluster peer restarted"
            );
            // What this node told the peer's previous run is gone.
            self.events.push(Change {
                peer: a.from,
                up: false,
            });
            self.events.push(Change {
                peer: a.from,
                up: true,
            });
        }
        if let Some(gap) = a.gap {
            self.outbox.nack(a.from, a.incarnation, &[gap], out);
            self.stats.nacks_sent.fetch_add(1, Relaxed);
        }
        self.stats.unrecoverable.fetch_add(a.unrecoverable, Relaxed);
        match a.payload {
            Payload::Deliver(items) => {
                self.stats.items_in.fetch_add(items.len() as u64, Relaxed);
                items.for_each(|item| inbound.deliver(item));
            }
            Payload::Frame(item) => {
                self.stats.items_in.fetch_add(1, Relaxed);
                inbound.deliver(item);
            }
            Payload::Pending => {}
            Payload::Presence(records) => {
                self.stats.items_in.fetch_add(records.len() as u64, Relaxed);
                records
                    .into_iter()
                    .for_each(|r| inbound.presence(a.from, r));
            }
            Payload::Membership(records) => {
                self.stats.items_in.fetch_add(records.len() as u64, Relaxed);
                records
                    .into_iter()
                    .for_each(|r| inbound.membership(a.from, r));
            }
            Payload::Submit(submits) => {
                self.stats.items_in.fetch_add(submits.len() as u64, Relaxed);
                submits.into_iter().for_each(|s| inbound.submit(a.from, s));
            }
            Payload::Reply(replies) => {
                self.stats.items_in.fetch_add(replies.len() as u64, Relaxed);
                replies.into_iter().for_each(|r| inbound.reply(r));
            }
            Payload::Heartbeat(hb) => self.heartbeat_from(a.from, &hb),
            Payload::Nack(nack) => self.answer(a.from, &nack, out),
        }
    }

    /// The heartbeat tick: a heartbeat to every peer, NACKs again for what
    /// is still missing, down verdicts, expiry of stale fragments.
    pub fn tick(&mut self, now: u64, out: &mut Vec<Datagram>) {
        let mut alive = vec![self.view.me()];
        alive.extend(self.liveness.up_peers());
        let hb = Heartbeat {
            config_digest: self.digest,
            alive,
        };
        let peers: Vec<NodeId> = self.liveness.peers().collect();
        for &peer in &peers {
            if let Err(e) = self.outbox.heartbeat(peer, &hb, out) {
                self.stats.send_errors.fetch_add(1, Relaxed);
                tracing::warn!(peer, error = %e, "heartbeat refused");
            }
            if let Some((incarnation, ranges)) = self.receiver.missing(peer) {
                if !ranges.is_empty() {
                    self.outbox.nack(peer, incarnation, &ranges, out);
                    self.stats
                        .nacks_sent
                        .fetch_add(ranges.len() as u64, Relaxed);
                }
            }
        }
        let mut changes = std::mem::take(&mut self.changes);
        self.liveness.tick(now, &mut changes);
        for change in changes.drain(..) {
            self.apply(change);
        }
        self.changes = changes;
        self.receiver.expire(now);
        if now >= self.settle_at && !self.view.settled() {
            self.view.settle();
            tracing::info!("cluster view settled");
            // Peers still unheard are down now, not unknown: their users and
            // groups move to the live owners, which must hear who is where.
            let down: Vec<NodeId> = self
                .liveness
                .peers()
                .filter(|&p| !self.view.is_up(p))
                .collect();
            self.events
                .extend(down.into_iter().map(|peer| Change { peer, up: false }));
        }
    }

    /// The peers that came up, went down or restarted since the last call,
    /// in order (a restart is a down then an up).
    pub fn take_events(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.events)
    }

    fn apply(&mut self, change: Change) {
        self.view.set_up(change.peer, change.up);
        self.events.push(change);
        self.stats.view_changes.fetch_add(1, Relaxed);
        tracing::info!(peer = change.peer, up = change.up, "cluster peer state");
    }

    fn heartbeat_from(&mut self, peer: NodeId, hb: &Heartbeat) {
        if hb.config_digest != self.digest {
            let before = self.stats.config_mismatches.fetch_add(1, Relaxed);
            if before == 0 {
                tracing::warn!(
                    peer,
                    "cluster configuration differs from this node's: the rings disagree"
                );
            }
        }
    }

    fn answer(&mut self, peer: NodeId, nack: &Nack, out: &mut Vec<Datagram>) {
        self.stats.nacks_received.fetch_add(1, Relaxed);
        let before = out.len();
        let left = self.outbox.resend(peer, nack, out);
        self.stats
            .resends
            .fetch_add((out.len() - before) as u64, Relaxed);
        if left.is_empty() {
            self.stats.nacks_answered.fetch_add(1, Relaxed);
        } else {
            let unsent: u64 = left.unsent.iter().map(|r| r.count()).sum();
            self.stats
                .nacks_unanswered
                .fetch_add(left.expired_count() + unsent, Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
