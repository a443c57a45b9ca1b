//! Single messages across nodes on the real binary (two nodes on loopback,
//! memory store each): a cmd 10 for a user another node owns is numbered,
//! stored and delivered there, and its ack or error comes back to the very
//! connection that sent it; while the owner is down it is refused with 503.
//!
//! Users connect to their owner node, as nginx would send them; one
//! "visitor" is connected to the node that does not own it, as a sender.

mod common;

use common::cluster::{cluster_file, eventually, free_udp, node, server, up};
use common::traffic::single;
use common::{temp_path, Daemon};
use imedge::cluster::Ring;

/// The first `n` uids from 1000 up whose owner is node `id` (1-based).
fn owned_by(ring: &Ring, id: usize, n: usize) -> Vec<i64> {
    (1000u64..)
        .filter(|&uid| ring.owner_of_uid(uid) == Some(id - 1))
        .take(n)
        .map(|uid| uid as i64)
        .collect()
}

fn metric(d: &Daemon, name: &str) -> f64 {
    d.metric(&format!("{name} "))
}

#[tokio::test]
async fn single_messages_are_numbered_by_the_recipient_s_node_and_acked_back() {
    let dir = temp_path("cluster-route");
    let config = cluster_file(&dir, &free_udp(2));
    let mut nodes: Vec<Daemon> = (1..=2).map(|id| node(&config, id)).collect();
    assert!(
        eventually(|| up(&nodes[0], 2) == 1.0 && up(&nodes[1], 1) == 1.0),
        "the nodes never saw each other up"
    );
    let ring = Ring::parse(&[server(1), server(2)]).unwrap();
    let (on_a, on_b) = (owned_by(&ring, 1, 1), owned_by(&ring, 2, 3));
    let (sender, recipient, stranger, visitor) = (on_a[0], on_b[0], on_b[1], on_b[2]);

    let mut s = nodes[0].connect(sender).await;
    let mut r = nodes[1].connect(recipient).await;
    // Owned by node 2 but connected to node 1 (a failover, a direct link).
    let mut v = nodes[0].connect(visitor).await;

    for i in 1..=3 {
        s.send(single(i, recipient, &format!("m{i}"))).await;
    }
    for i in 1..=3i64 {
        let got = r.recv().await;
        assert_eq!(got["userid"], sender, "{got}");
        assert_eq!(got["content"], format!("m{i}"));
        assert_eq!(got["seq"], i, "the inbox seq is node 2's: {got}");
        let ack = s.recv().await;
        assert_eq!(
            (ack["cmd"].clone(), ack["id"].clone()),
            (20.into(), i.into()),
            "{ack}"
        );
        assert_eq!(ack["seq"], i, "the ack carries the recipient's seq: {ack}");
        assert_eq!(ack["ts"], got["ts"]);
    }

    // The visitor's message is forwarded too, and continues the same inbox.
    v.send(single(9, recipient, "from the visitor")).await;
    let got = r.recv().await;
    assert_eq!(
        (got["userid"].clone(), got["seq"].clone()),
        (visitor.into(), 4.into())
    );
    let ack = v.recv().await;
    assert_eq!(
        (ack["cmd"].clone(), ack["seq"].clone()),
        (20.into(), 4.into()),
        "{ack}"
    );

    // Larger than one datagram: fragmented on the way, whole on arrival.
    let long = "x".repeat(5_000);
    s.send(single(4, recipient, &long)).await;
    let got = r.recv().await;
    assert_eq!(
        (got["content"].as_str(), got["seq"].as_i64()),
        (Some(&long[..]), Some(5))
    );
    assert_eq!(s.recv().await["seq"], 5);

    // A user node 2 has never seen: 404, decided by node 2, back at the sender.
    s.send(single(10, stranger, "nobody home")).await;
    let err = s.recv().await;
    assert_eq!(
        (err["cmd"].clone(), err["id"].clone(), err["code"].clone()),
        (21.into(), 10.into(), 404.into()),
        "{err}"
    );
    assert_eq!(metric(&nodes[0], "imedge_cluster_forwarded_total"), 6.0);
    assert!(eventually(|| metric(
        &nodes[1],
        "imedge_cluster_submits_in_total"
    ) == 6.0));
    assert_eq!(metric(&nodes[1], "imedge_cluster_forwarded_total"), 0.0);

    // Node 2 killed: once node 1 hears it down, messages for its users are
    // refused, not numbered on node 1.
    let mut b = nodes.pop().unwrap();
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    assert!(
        eventually(|| up(&nodes[0], 2) == 0.0),
        "node 2 never went down"
    );
    s.send(single(11, recipient, "into the void")).await;
    let err = s.recv().await;
    assert_eq!(
        (err["cmd"].clone(), err["id"].clone(), err["code"].clone()),
        (21.into(), 11.into(), 503.into()),
        "{err}"
    );
    assert_eq!(metric(&nodes[0], "imedge_cluster_owner_down_total"), 1.0);
    drop(nodes);
    let _ = std::fs::remove_dir_all(dir);
}
