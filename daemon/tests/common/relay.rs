//! A UDP relay in front of one node's cluster port: peers send to the relay
//! (it is the node's `udp` in the cluster config), and it passes datagrams
//! on to the node's real socket (`udp_bind`), dropping every `n`th if asked
//! and keeping the last ones it passed so a test can replay them.
//!
//! One direction is enough: nodes send to the configured `udp` of their
//! peer, never back to a datagram's source address, so a node's answers go
//! through the relay in front of the peer they are for.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Datagrams a relay keeps for [`Relay::captured`].
const KEPT: usize = 64;

/// What a relay saw.
#[derive(Debug, Default)]
pub struct RelayCounts {
    /// Datagrams passed on to the node.
    pub passed: AtomicU64,
    /// Datagrams dropped on purpose.
    pub dropped: AtomicU64,
}

/// A running relay thread; stopped and joined on drop.
pub struct Relay {
    /// Where peers send: the node's `udp` in the cluster config.
    pub addr: SocketAddr,
    /// Its counters.
    pub counts: Arc<RelayCounts>,
    kept: Arc<Mutex<VecDeque<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Relays from a fresh loopback port to `node`, dropping every
    /// `drop_every`th datagram (counted from 1) when set.
    pub fn start(node: SocketAddr, drop_every: Option<u64>) -> Relay {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        // The stop flag is looked at between reads.
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let counts = Arc::new(RelayCounts::default());
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, kept, stop) = (counts.clone(), kept.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                let mut seen = 0u64;
                while !stop.load(Relaxed) {
                    let Ok((n, _)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    seen += 1;
                    if drop_every.is_some_and(|k| seen.is_multiple_of(k)) {
                        counts.dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                    // A refused send (the node is gone) is the node's loss.
                    let _ = socket.send_to(&buf[..n], node);
                    counts.passed.fetch_add(1, Relaxed);
                    let mut kept = kept.lock().unwrap();
                    if kept.len() == KEPT {
                        kept.pop_front();
                    }
                    kept.push_back(buf[..n].to_vec());
                }
            })
        };
        Relay {
            addr,
            counts,
            kept,
            stop,
            thread: Some(thread),
        }
    }

    /// The last datagrams passed on (at most 64), oldest first.
    pub fn captured(&self) -> Vec<Vec<u8>> {
        self.kept.lock().unwrap().iter().cloned().collect()
    }

    /// Datagrams dropped on purpose so far.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
