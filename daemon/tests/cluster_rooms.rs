//! Rooms, visitors and failover across real nodes sharing one real Redis
//! (started by the test): a room message is numbered by the node keeping
//! the group and reaches the members on every node once, the sender's
//! connection excepted; a visitor (a user connected to a node that does not
//! own it) gets its messages through the owner's presence registry; when a
//! node stops, the next one on the ring numbers its users' inboxes on from
//! the shared store, and when it returns, the users it owns are closed
//! elsewhere with 1012 so that they reconnect to it.

mod common;
#[path = "../src/store/redis/test_server.rs"]
mod test_server;

use std::time::Duration;

use common::cluster::{cluster_file, eventually, free_udp, node_with, owned_by, owner, up};
use common::traffic::{room, single};
use common::{temp_path, Daemon};
use test_server::RedisServer;

const QUIET: Duration = Duration::from_millis(400);

fn nodes(redis: &RedisServer, config: &std::path::Path, n: u16) -> Vec<Daemon> {
    let url = redis.url(0);
    let nodes: Vec<Daemon> = (1..=n)
        .map(|id| node_with(config, id, &["--store", &url]))
        .collect();
    assert!(
        eventually(|| all_up(&nodes)),
        "the nodes never all saw each other up"
    );
    nodes
}

fn all_up(nodes: &[Daemon]) -> bool {
    nodes.iter().enumerate().all(|(i, d)| {
        (1..=nodes.len() as u16)
            .filter(|&p| p as usize != i + 1)
            .all(|p| up(d, p) == 1.0)
    })
}

#[tokio::test]
async fn room_messages_cross_nodes_once_each_with_the_group_s_seqs() {
    let redis = RedisServer::start("cluster-rooms");
    let dir = temp_path("cluster-rooms");
    let config = cluster_file(&dir, &free_udp(3));
    let nodes = nodes(&redis, &config, 3);
    let n = |i: usize| &nodes[i - 1];

    // The group is placed on the ring by its id: its keeper numbers it.
    let creator = owned_by(3, 1, 1)[0];
    let gid = n(1).api(creator, "/contact/createcommunity", "name=across")["id"]
        .as_i64()
        .unwrap();
    let keeper = owner(3, gid);
    let sender_node = keeper % 3 + 1;
    let third = 6 - keeper - sender_node;
    let users = |node: usize| owned_by(3, node, 3);
    let (sender, mate) = (users(sender_node)[0], users(sender_node)[1]);
    let at_keeper = users(keeper)[0];
    let (at_third, other_third) = (users(third)[0], users(third)[1]);
    for uid in [sender, mate, at_keeper, at_third, other_third] {
        if uid != creator {
            n(1).api(uid, "/contact/joincommunity", &format!("dstid={gid}"));
        }
    }
    let mut s = n(sender_node).connect(sender).await;
    // The sender's other device gets the message; the sending one does not.
    let s2 = n(sender_node).connect(sender).await;
    let mut members = vec![
        n(sender_node).connect(mate).await,
        n(keeper).connect(at_keeper).await,
        n(third).connect(at_third).await,
        n(third).connect(other_third).await,
        s2,
    ];
    if creator != sender && ![mate, at_keeper, at_third, other_third].contains(&creator) {
        members.push(n(1).connect(creator).await);
    }
    // Presence records travel with the flush delay: let them land.
    tokio::time::sleep(QUIET).await;

    for i in 1..=4i64 {
        s.send(room(i, gid, &format!("r{i}"))).await;
        let ack = s.recv().await;
        assert_eq!(ack["cmd"], 20, "{ack}");
        assert_eq!(ack["id"], i);
        assert_eq!(ack["seq"], i, "the group's seq, from its keeper: {ack}");
    }
    for m in &mut members {
        for i in 1..=4i64 {
            let got = m.recv().await;
            assert_eq!(got["cmd"], 11, "uid {}: {got}", m.uid);
            assert_eq!(got["content"], format!("r{i}"));
            assert_eq!(got["seq"], i);
            assert_eq!(got["userid"], sender);
        }
        m.expect_silence(QUIET).await;
    }
    s.expect_silence(QUIET).await;

    // Ids need not be unique, nor given (0: no ack wanted): the sender's
    // node stamps its members' copy from the keeper's answer to exactly
    // that message.
    for (id, content) in [(0, "z1"), (5, "f1"), (0, "z2"), (5, "f2")] {
        s.send(room(id, gid, content)).await;
    }
    let acks = [s.recv().await, s.recv().await];
    assert!(
        acks.iter().all(|a| a["cmd"] == 20 && a["id"] == 5),
        "{acks:?}"
    );
    s.expect_silence(QUIET).await;
    let mate_copy = &mut members[0];
    for (seq, content) in [(5, "z1"), (6, "f1"), (7, "z2"), (8, "f2")] {
        let got = mate_copy.recv().await;
        assert_eq!(
            (got["seq"].as_i64(), got["content"].as_str()),
            (Some(seq), Some(content)),
            "{got}"
        );
    }
    let forwarded = n(sender_node).metric("imedge_cluster_forwarded_total ");
    assert!(forwarded >= 8.0, "the sender's node forwarded: {forwarded}");

    // A member who leaves on another node is refused at once by the keeper.
    n(third).api(at_third, "/contact/leavecommunity", &format!("dstid={gid}"));
    let mut leaver = n(third).connect(at_third).await;
    leaver.send(room(9, gid, "after leaving")).await;
    let refused = leaver.recv().await;
    assert_eq!(refused["cmd"], 21, "{refused}");
    assert_eq!(refused["code"], 403, "{refused}");
}

#[tokio::test]
async fn a_visitor_gets_its_messages_through_its_owner() {
    let redis = RedisServer::start("cluster-visitor");
    let dir = temp_path("cluster-visitor");
    let config = cluster_file(&dir, &free_udp(3));
    let nodes = nodes(&redis, &config, 3);
    let visitor = owned_by(3, 2, 1)[0];
    let sender = owned_by(3, 3, 1)[0];
    // Owned by node 2, connected to node 1 (a failover, a direct link).
    let mut v = nodes[0].connect(visitor).await;
    let mut s = nodes[2].connect(sender).await;
    tokio::time::sleep(QUIET).await;
    for i in 1..=3i64 {
        s.send(single(i, visitor, &format!("v{i}"))).await;
        assert_eq!(s.recv().await["seq"], i);
        let got = v.recv().await;
        assert_eq!(got["content"], format!("v{i}"), "{got}");
        assert_eq!(got["seq"], i, "numbered by the owner, node 2: {got}");
    }
    // Back home: the owner delivers locally. The visiting node moved the
    // user's delivery cursor as it relayed, so at most what its cursor
    // save had not stored yet comes again first.
    drop(v);
    tokio::time::sleep(QUIET).await;
    let mut back = nodes[1].connect(visitor).await;
    s.send(single(4, visitor, "home")).await;
    let got = back.recv().await;
    assert_eq!(got["seq"], 4, "nothing pushed again: {got}");
}

#[tokio::test]
async fn a_stopped_node_s_users_are_numbered_on_by_the_next_and_closed_when_it_returns() {
    let redis = RedisServer::start("cluster-failover");
    let dir = temp_path("cluster-failover");
    let config = cluster_file(&dir, &free_udp(2));
    let mut nodes = nodes(&redis, &config, 2);
    let user = owned_by(2, 2, 1)[0];
    let sender = owned_by(2, 1, 1)[0];
    let mut s = nodes[0].connect(sender).await;
    let mut u = nodes[1].connect(user).await;
    for i in 1..=3i64 {
        s.send(single(i, user, "before")).await;
        let ack = s.recv().await;
        assert_eq!(ack["seq"], i, "{ack}");
        assert_eq!(u.recv().await["seq"], i);
    }
    // An orderly stop stores everything shown first: no gap after it.
    nodes[1].terminate();
    assert_eq!(u.close_code().await, Some(1001));
    assert_eq!(nodes[1].wait_exit(Duration::from_secs(10)), Some(0));
    assert!(eventually(|| up(&nodes[0], 2) == 0.0));
    // nginx sends the user to node 1 now; node 1 numbers its inbox.
    let mut u = nodes[0].connect(user).await;
    s.send(single(4, user, "during")).await;
    let ack = s.recv().await;
    assert_eq!(ack["cmd"], 20, "{ack}");
    assert_eq!(ack["seq"], 4, "the sequence goes on from the store: {ack}");
    assert_eq!(u.recv().await["seq"], 4);

    // Node 2 returns: node 1 closes its user, which reconnects there.
    let url = redis.url(0);
    nodes[1] = node_with(&config, 2, &["--store", &url]);
    assert!(eventually(|| up(&nodes[0], 2) == 1.0));
    assert_eq!(u.close_code().await, Some(1012), "closed for its owner");
    let mut u = nodes[1].connect(user).await;
    s.send(single(5, user, "after")).await;
    let ack = s.recv().await;
    assert_eq!(ack["cmd"], 20, "{ack}");
    assert_eq!(
        ack["seq"], 5,
        "node 1 handed the log back with no gap: {ack}"
    );
    // Seq 4 may come again first: node 1 saves the user's delivery cursor
    // as it closes, and node 2 may read it before the save lands.
    let mut got = u.recv().await;
    if got["seq"] == 4 {
        got = u.recv().await;
    }
    assert_eq!(got["seq"], 5, "{got}");
    // The whole history, from the shared store, once each.
    u.send(r#"{"cmd":30,"id":77,"inbox":0,"groups":{}}"#).await;
    for want in 1..=5i64 {
        assert_eq!(u.recv().await["seq"], want);
    }
}
