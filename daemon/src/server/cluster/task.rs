//! The cluster task: one per node, on the first core's runtime, owning the
//! socket and the [`Engine`]. It sleeps until a datagram arrives, another
//! core hands it an item, a batch falls due or the heartbeat ticks.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::cluster::wire::{Datagram, Item, NodeId};
use crate::server::core::Core;

use super::engine::Engine;
use super::inbound::ToCores;
use super::transport::Transport;

/// Items taken from the channel per wake-up before the socket gets a turn.
const ITEMS_PER_WAKE: usize = 1024;

/// An item another core wants sent.
#[derive(Debug)]
pub struct Outgoing {
    /// The destination node.
    pub peer: NodeId,
    /// What to send.
    pub item: Item,
}

/// Everything the task needs, built on the main thread and moved to the
/// first core.
pub struct Task {
    pub(super) socket: std::net::UdpSocket,
    pub(super) rx: flume::Receiver<Outgoing>,
    pub(super) engine: Engine,
    pub(super) transport: Transport,
    pub(super) heartbeat_ms: u64,
}

/// Runs the cluster I/O on `core`'s runtime until every sender is gone.
pub async fn run(core: Rc<Core>, task: Task) {
    let Task {
        socket,
        rx,
        mut engine,
        mut transport,
        heartbeat_ms,
    } = task;
    let udp = match monoio::net::udp::UdpSocket::from_std(socket) {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "cluster socket adoption failed: the node runs alone");
            return;
        }
    };
    let mut inbound = ToCores::new(core);
    let clock = Instant::now();
    let now = || clock.elapsed().as_millis() as u64;
    let mut out: Vec<Datagram> = Vec::new();
    let mut next_tick = 0;
    loop {
        let t = now();
        engine.due(t, &mut out);
        if t >= next_tick {
            engine.tick(t, &mut out);
            next_tick = t + heartbeat_ms;
        }
        for change in engine.take_events() {
            inbound.peer(change.peer, change.up);
        }
        while transport.send_ready(&mut out).is_err() {
            // Socket buffer full: wait for room rather than drop.
            if udp.writable(false).await.is_err() {
                out.clear();
            }
        }
        let wake = engine
            .next_deadline()
            .map_or(next_tick, |d| d.min(next_tick));
        let wait = Duration::from_millis(wake.saturating_sub(now()));
        monoio::select! {
            ready = udp.readable(false) => {
                if let Err(e) = ready {
                    tracing::error!(error = %e, "cluster socket failed");
                    return;
                }
                let t = now();
                let got = transport.recv_ready(|d| engine.receive(d, t, &mut out, &mut inbound));
                if let Err(e) = got {
                    tracing::warn!(error = %e, "cluster receive failed");
                }
            }
            first = rx.recv_async() => {
                let Ok(first) = first else { return };
                let t = now();
                engine.push(first.peer, first.item, t, &mut out);
                for o in rx.try_iter().take(ITEMS_PER_WAKE) {
                    engine.push(o.peer, o.item, t, &mut out);
                }
            }
            _ = monoio::time::sleep(wait) => {}
        }
    }
}
