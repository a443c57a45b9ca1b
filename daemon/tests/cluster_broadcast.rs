//! LAN broadcast mode (the seed design) on the real binary: every node sends
//! every datagram to the one `broadcast` address, and a test-side "LAN"
//! there copies each datagram to every node, as a broadcast segment would.
//! Each node keeps what was sealed for it and drops the rest as
//! misdirected; the cluster works as with unicast.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::{eventually, free_udp, owned_by, server, up, CLUSTER_SECRET};
use common::{start, temp_path, Daemon};

/// A broadcast segment on loopback: whatever reaches `addr` goes to every node.
struct Lan {
    addr: SocketAddr,
    copied: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Lan {
    fn start(nodes: Vec<SocketAddr>) -> Lan {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let copied = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (copied.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !s.load(Relaxed) {
                let Ok((n, _)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                for to in &nodes {
                    let _ = socket.send_to(&buf[..n], to);
                    c.fetch_add(1, Relaxed);
                }
            }
        });
        Lan { addr, copied, stop }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

/// Node `id`'s config: every node broadcasts to `lan`, binding its own port.
fn config(dir: &std::path::Path, id: usize, lan: SocketAddr, bind: &[SocketAddr]) -> String {
    let mut text = format!(
        "[cluster]\nsecret = \"{CLUSTER_SECRET}\"\nheartbeat_ms = 100\nheartbeat_misses = 3\n\
         flush_delay_us = 0\nbroadcast = \"{lan}\"\nudp_bind = \"{}\"\n",
        bind[id - 1]
    );
    for (i, addr) in bind.iter().enumerate() {
        text += &format!(
            "\n[[cluster.nodes]]\nid = {}\nserver = \"{}\"\nudp = \"{addr}\"\n",
            i + 1,
            server(i + 1)
        );
    }
    let path = dir.join(format!("node{id}.toml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn misdirected(d: &Daemon) -> f64 {
    d.metric("imedge_cluster_drops_total{reason=\"misdirected\"} ")
}

#[tokio::test]
async fn broadcast_mode_delivers_across_nodes_and_each_node_keeps_only_its_own() {
    let dir = temp_path("cluster-broadcast");
    std::fs::create_dir_all(&dir).unwrap();
    let bind = free_udp(3);
    let lan = Lan::start(bind.clone());
    let nodes: Vec<Daemon> = (1..=3)
        .map(|id| {
            let c = config(&dir, id, lan.addr, &bind);
            start(&["--config", &c, "--node-id", &id.to_string()])
        })
        .collect();
    assert!(
        eventually(|| (1..=3u16).all(|a| {
            (1..=3u16)
                .filter(|&b| b != a)
                .all(|b| up(&nodes[a as usize - 1], b) == 1.0)
        })),
        "the nodes never saw each other through the broadcast address"
    );
    let (sender, recipient) = (owned_by(3, 1, 1)[0], owned_by(3, 3, 1)[0]);
    let mut s = nodes[0].connect(sender).await;
    let mut r = nodes[2].connect(recipient).await;
    for i in 1..=3i64 {
        s.send(format!(
            r#"{{"id":{i},"cmd":10,"dstid":{recipient},"media":1,"content":"b{i}"}}"#
        ))
        .await;
        let ack = s.recv().await;
        assert_eq!(ack["seq"], i, "{ack}");
        let got = r.recv().await;
        assert_eq!(got["content"], format!("b{i}"), "{got}");
        assert_eq!(got["seq"], i);
    }
    // Node 2 heard every datagram node 1 and node 3 sealed for each other.
    assert!(
        misdirected(&nodes[1]) > 0.0,
        "node 2 kept nothing misdirected"
    );
    assert!(lan.copied.load(Relaxed) > 0);
}
