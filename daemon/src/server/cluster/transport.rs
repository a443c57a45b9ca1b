//! Datagrams on and off the wire in batches: `recvmmsg` after readiness,
//! `sendmmsg` with per-datagram addresses, through [`sys`](crate::server::sys).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use socket2::SockAddr;

use crate::cluster::wire::{Datagram, DropReason, NodeId};
use crate::server::sys::{self, Received, MMSG_BATCH};

use super::stats::Stats;

/// `recvmmsg` calls per wake-up at most, so sending (NACK answers, the
/// batches due) gets its turn under a flood.
const RECV_CALLS_PER_WAKE: usize = 8;

/// The socket's batches and where each peer is.
pub struct Transport {
    fd: RawFd,
    slots: Vec<Box<[u8]>>,
    got: [Received; MMSG_BATCH],
    addrs: HashMap<NodeId, SockAddr>,
    broadcast: Option<SockAddr>,
    stats: Arc<Stats>,
}

impl Transport {
    /// Batches for `socket`, whose peers are `addrs`; with `broadcast`, every
    /// datagram goes to that address instead. Receive buffers are
    /// `datagram_bytes` long: a longer datagram arrives cut and is dropped
    /// as `size`.
    pub fn new(
        socket: &impl AsRawFd,
        addrs: impl IntoIterator<Item = (NodeId, std::net::SocketAddr)>,
        broadcast: Option<std::net::SocketAddr>,
        datagram_bytes: usize,
        stats: Arc<Stats>,
    ) -> Transport {
        Transport {
            fd: socket.as_raw_fd(),
            slots: (0..MMSG_BATCH)
                .map(|_| vec![0u8; datagram_bytes].into_boxed_slice())
                .collect(),
            got: [Received::default(); MMSG_BATCH],
            addrs: addrs.into_iter().map(|(id, a)| (id, a.into())).collect(),
            broadcast: broadcast.map(Into::into),
            stats,
        }
    }

    /// Takes the waiting datagrams (a bounded number of batches), handing
    /// each to `each`; returns how many. Ends at `WouldBlock`.
    pub fn recv_ready(&mut self, mut each: impl FnMut(Bytes)) -> io::Result<usize> {
        let mut total = 0;
        for _ in 0..RECV_CALLS_PER_WAKE {
            let n = match sys::recv_datagrams(self.fd, &mut self.slots, &mut self.got) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.stats.received.fetch_add(n as u64, Relaxed);
            for (slot, got) in self.slots.iter().zip(&self.got[..n]) {
                if got.truncated {
                    self.stats.count_drop(DropReason::Size);
                } else {
                    each(Bytes::copy_from_slice(&slot[..got.len]));
                }
            }
            total += n;
            if n < MMSG_BATCH {
                break;
            }
        }
        Ok(total)
    }

    /// Sends what it can of `out` at once, in `sendmmsg` batches, removing
    /// what left or failed; returns `WouldBlock` with the rest still in
    /// `out` when the socket buffer is full.
    pub fn send_ready(&self, out: &mut Vec<Datagram>) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            let rest = &out[done..];
            if rest.is_empty() {
                break Ok(());
            }
            let mut batch: Vec<(&[u8], &SockAddr)> = Vec::with_capacity(MMSG_BATCH);
            for d in rest.iter().take(MMSG_BATCH) {
                match self.broadcast.as_ref().or_else(|| self.addrs.get(&d.peer)) {
                    Some(addr) => batch.push((&d.bytes, addr)),
                    None => break,
                }
            }
            if batch.is_empty() {
                // No address for this peer: it is not in the configuration.
                self.stats.send_errors.fetch_add(1, Relaxed);
                done += 1;
                continue;
            }
            match sys::send_datagrams(self.fd, &batch) {
                Ok(n) => {
                    for d in &rest[..n] {
                        if let Some(p) = self.stats.peer(d.peer) {
                            p.datagrams_out.fetch_add(1, Relaxed);
                            p.bytes_out.fetch_add(d.bytes.len() as u64, Relaxed);
                        }
                    }
                    done += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Err(e),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The first datagram's fault (an unreachable address):
                    // skip it; a NACK or a sync covers what it carried.
                    self.stats.send_errors.fetch_add(1, Relaxed);
                    tracing::warn!(peer = rest[0].peer, error = %e, "cluster datagram not sent");
                    done += 1;
                }
            }
        };
        out.drain(..done);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn a_batch_goes_out_in_order_and_comes_back_in_batches() {
        let (a, b) = pair();
        let stats = Arc::new(Stats::new(&[1, 2]));
        let ta = Transport::new(
            &a,
            [(2, b.local_addr().unwrap())],
            None,
            1400,
            stats.clone(),
        );
        let mut tb = Transport::new(
            &b,
            [(1, a.local_addr().unwrap())],
            None,
            1400,
            stats.clone(),
        );
        let mut out: Vec<Datagram> = (0..40u64)
            .map(|seq| Datagram {
                peer: 2,
                seq,
                bytes: Bytes::from(format!("datagram {seq}")),
            })
            .collect();
        ta.send_ready(&mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(stats.peer(2).unwrap().datagrams_out.load(Relaxed), 40);
        let mut seen = Vec::new();
        let mut tries = 0;
        while seen.len() < 40 && tries < 1000 {
            tb.recv_ready(|d| seen.push(d)).unwrap();
            tries += 1;
        }
        let want: Vec<Bytes> = (0..40)
            .map(|s| Bytes::from(format!("datagram {s}")))
            .collect();
        assert_eq!(seen, want);
        assert_eq!(stats.received.load(Relaxed), 40);
        assert_eq!(tb.recv_ready(|_| panic!("nothing left")).unwrap(), 0);
    }

    #[test]
    fn a_datagram_longer_than_the_buffer_is_a_size_drop() {
        let (a, b) = pair();
        let stats = Arc::new(Stats::new(&[1, 2]));
        let mut tb = Transport::new(&b, [], None, 600, stats.clone());
        a.send_to(&[7u8; 601], b.local_addr().unwrap()).unwrap();
        a.send_to(&[7u8; 600], b.local_addr().unwrap()).unwrap();
        let mut seen = Vec::new();
        for _ in 0..1000 {
            tb.recv_ready(|d| seen.push(d.len())).unwrap();
            if stats.received.load(Relaxed) == 2 {
                break;
            }
        }
        assert_eq!(seen, vec![600]);
        assert_eq!(stats.drops(DropReason::Size), 1);
    }

    #[test]
    fn a_datagram_for_an_unknown_peer_is_an_error_not_a_stall() {
        let (a, _b) = pair();
        let stats = Arc::new(Stats::new(&[1, 2]));
        let ta = Transport::new(&a, [], None, 1400, stats.clone());
        let mut out = vec![Datagram {
            peer: 9,
            seq: 1,
            bytes: Bytes::from_static(b"x"),
        }];
        ta.send_ready(&mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(stats.send_errors.load(Relaxed), 1);
    }
}
