//! The cluster's UDP transport on the real binary, on loopback: nodes see
//! each other up through heartbeats, a killed node is marked down and the
//! ring view changes, and datagrams sent by the test (sealed with the
//! library's own encoder, or broken on purpose) are delivered, dropped and
//! NACKed as the protocol says, all read back from `/metrics`.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use common::cluster::{cluster_file, eventually, free_udp, node, up, CLUSTER_SECRET, LIMIT};
use common::{temp_path, Daemon};
use imedge::cluster::wire::{
    DeliverItem, Item, Key, Outbox, Payload, Receiver, Sealer, SeqRange, Settings, Target,
};

fn share(d: &Daemon, node: u16) -> f64 {
    d.metric(&format!("imedge_cluster_ring_share{{node=\"{node}\"}} "))
}

fn drops(d: &Daemon, reason: &str) -> f64 {
    d.metric(&format!(
        "imedge_cluster_drops_total{{reason=\"{reason}\"}} "
    ))
}

#[test]
fn three_nodes_see_each_other_and_mark_a_killed_one_down() {
    let dir = temp_path("cluster3");
    let config = cluster_file(&dir, &free_udp(3));
    let mut nodes: Vec<Daemon> = (1..=3).map(|id| node(&config, id)).collect();
    for (i, d) in nodes.iter().enumerate() {
        let me = i as u16 + 1;
        assert_eq!(d.metric("imedge_cluster_node_id "), f64::from(me));
        let others: Vec<u16> = (1..=3).filter(|&n| n != me).collect();
        assert!(
            eventually(|| others.iter().all(|&n| up(d, n) == 1.0)),
            "node {me} never saw {others:?} up:\n{}",
            d.get("/metrics").1
        );
    }
    // Every node owns part of the ring while all are up.
    let before: Vec<f64> = (1..=3).map(|n| share(&nodes[0], n)).collect();
    assert!(before.iter().all(|&s| s > 100.0), "{before:?}");
    assert_eq!(before.iter().sum::<f64>(), 1000.0);
    assert!(nodes[0].metric("imedge_cluster_datagrams_in_total{node=\"2\"}") > 0.0);

    let mut dead = nodes.pop().unwrap();
    dead.child.kill().unwrap(); // SIGKILL: no goodbye.
    dead.child.wait().unwrap();
    for (i, d) in nodes.iter().enumerate() {
        assert!(
            eventually(|| up(d, 3) == 0.0),
            "node {} still sees node 3 up",
            i + 1
        );
        let survivor = if i == 0 { 2 } else { 1 };
        assert_eq!(up(d, survivor), 1.0, "the survivors still see each other");
        // The down node's users moved to the other two, and only they did.
        assert_eq!(share(d, 3), 0.0);
        let s1 = share(d, 1);
        let s2 = share(d, 2);
        assert_eq!(s1 + s2, 1000.0);
        assert!(s1 >= before[0] && s2 >= before[1], "{s1} {s2} {before:?}");
        assert!(d.metric("imedge_cluster_view_changes_total ") >= 3.0);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The test plays node 2 beside a real node 1.
struct FakePeer {
    socket: UdpSocket,
    daemon_udp: SocketAddr,
    outbox: Outbox,
    receiver: Receiver,
}

impl FakePeer {
    fn new(daemon_udp: SocketAddr, socket: UdpSocket) -> FakePeer {
        let key = Key::new(CLUSTER_SECRET.as_bytes()).unwrap();
        let me = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let settings = Settings {
            max_delay_ms: 0,
            ..Settings::default()
        };
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        FakePeer {
            socket,
            daemon_udp,
            outbox: Outbox::new(Sealer::new(key.clone(), 2, me), settings.clone()).unwrap(),
            receiver: Receiver::new(key, 2, me, [1], &settings).unwrap(),
        }
    }

    /// A sealed deliver datagram for user `uid` carrying a text frame.
    fn deliver(&mut self, uid: i64, text: &str) -> Bytes {
        let mut frame = vec![0x81, text.len() as u8];
        frame.extend_from_slice(text.as_bytes());
        let item = Item::Deliver(DeliverItem {
            target: Target::User(uid),
            frame: Bytes::from(frame),
        });
        let mut out = Vec::new();
        self.outbox.push(1, item, 0, &mut out).unwrap();
        self.outbox.due(0, &mut out);
        assert_eq!(out.len(), 1);
        out.remove(0).bytes
    }

    fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.daemon_udp).unwrap();
    }

    /// Reads the daemon's datagrams until `want` matches one (opened with
    /// the library's receiver: authentic, addressed to node 2).
    fn wait_for(&mut self, mut want: impl FnMut(&Payload) -> bool) -> bool {
        let start = Instant::now();
        let mut buf = vec![0u8; 65_536];
        while start.elapsed() < LIMIT {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let d = Bytes::copy_from_slice(&buf[..n]);
            if let Ok(a) = self.receiver.accept(d, 0) {
                assert_eq!(a.from, 1);
                if want(&a.payload) {
                    return true;
                }
            }
        }
        false
    }
}

#[tokio::test]
async fn datagrams_from_a_peer_are_checked_delivered_nacked_and_counted() {
    let dir = temp_path("cluster-peer");
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = vec![free_udp(1)[0], fake.local_addr().unwrap()];
    let config = cluster_file(&dir, &udp);
    let d = node(&config, 1);
    let mut peer = FakePeer::new(udp[0], fake);

    // The daemon's heartbeats reach the fake peer, sealed for node 2.
    assert!(peer.wait_for(|p| matches!(p, Payload::Heartbeat(hb) if hb.alive.contains(&1))));

    // A genuine deliver datagram reaches the user's connection on node 1.
    let mut client = d.connect(77).await;
    let genuine = peer.deliver(77, r#"{"cmd":10,"id":1,"text":"over udp"}"#);
    peer.send(&genuine);
    let got = client.recv().await;
    assert_eq!(got["text"], "over udp", "{got}");
    assert!(
        eventually(|| up(&d, 2) == 1.0),
        "an authentic datagram brings node 2 up"
    );

    // The same bytes again: a replay, dropped, not delivered twice.
    peer.send(&genuine);
    assert!(eventually(|| drops(&d, "replay") == 1.0));
    client.expect_silence(Duration::from_millis(300)).await;

    // Right header, wrong MAC.
    let mut forged = BytesMut::from(&genuine[..]);
    let last = forged.len() - 1;
    forged[last] ^= 0x55;
    peer.send(&forged);
    assert!(eventually(|| drops(&d, "mac") == 1.0));

    // Another format version.
    let mut version = BytesMut::from(&genuine[..]);
    version[4] = 9;
    peer.send(&version);
    assert!(eventually(|| drops(&d, "version") == 1.0));

    // Not an imedge datagram at all.
    peer.send(b"hello, is this DNS?............................................");
    assert!(eventually(|| drops(&d, "magic") == 1.0));
    client.expect_silence(Duration::from_millis(200)).await;

    // Skip a sequence number: the daemon NACKs exactly the gap.
    let _lost = peer.deliver(77, r#"{"cmd":10,"id":2,"text":"lost"}"#);
    let third = peer.deliver(77, r#"{"cmd":10,"id":3,"text":"third"}"#);
    peer.send(&third);
    assert_eq!(client.recv().await["text"], "third");
    let gap = SeqRange { first: 2, last: 2 };
    assert!(
        peer.wait_for(|p| matches!(p, Payload::Nack(n) if n.ranges.contains(&gap))),
        "no NACK for seq 2"
    );
    assert!(d.metric("imedge_cluster_nacks_sent_total ") >= 1.0);
    assert_eq!(d.metric("imedge_cluster_drops_total{reason=\"mac\"} "), 1.0);
    assert!(d.metric("imedge_cluster_items_in_total ") >= 2.0);
    drop(d);
    let _ = std::fs::remove_dir_all(dir);
}
