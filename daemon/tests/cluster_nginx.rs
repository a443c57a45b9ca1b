//! Three real nodes on one real redis-server behind the real nginx (the
//! shipped config), every client connected through nginx: single messages
//! cross nodes and carry the recipient's seqs; room messages reach the
//! members on every node with the group's seqs; a node SIGKILLed mid-stream
//! loses no acknowledged message; forged and replayed datagrams are dropped
//! and counted; datagrams lost on the way are repaired by NACK.
//!
//! The harness is `common::stack` (processes), `common::nginx`,
//! `common::relay` and `common::traffic` (client-side streams and syncs).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use common::cluster::{eventually, CLUSTER_SECRET, LIMIT};
use common::stack::{Options, Stack, NODES};
use common::traffic::{collect, room, single, stream, sync_all, Inbox, Outcome, Planned};
use imedge::cluster::wire::header::Kind;
use imedge::cluster::wire::seal::datagram_buf;
use imedge::cluster::wire::{Key, Sealer};

/// Each user's uids are taken from here up, by owner node.
const BASE: u64 = 1_000;

/// `n` users per node, disjoint: `users[id - 1]` are owned by node `id`.
fn users(stack: &Stack, n: usize) -> Vec<Vec<i64>> {
    (1..=NODES).map(|id| stack.owned_by(id, n, BASE)).collect()
}

/// Node `id`'s counter `name` (no labels).
fn counter(stack: &Stack, id: usize, name: &str) -> f64 {
    stack.node(id).metric(&format!("{name} "))
}

fn drops(stack: &Stack, id: usize, reason: &str) -> f64 {
    stack.node(id).metric(&format!(
        "imedge_cluster_drops_total{{reason=\"{reason}\"}} "
    ))
}

/// Checks one recipient's replayed inbox: seqs in order, no content twice,
/// every acked message at its acked seq, and no seq missing, also for the
/// users of a killed node: the next owner continues at the last stored seq
/// (with the shared store nothing is shown before it is stored).
fn check_inbox(uid: i64, inbox: &Inbox, acked: &BTreeMap<u64, String>) {
    assert!(!inbox.truncated, "uid {uid}: retention cut the inbox");
    let seqs: Vec<u64> = inbox.replayed.iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "uid {uid}: the replay is out of order: {seqs:?}"
    );
    let mut ends = vec![0];
    ends.extend(&seqs);
    ends.push(inbox.latest + 1);
    let jumps: Vec<(u64, u64)> = ends
        .windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect();
    assert_eq!(
        jumps,
        vec![],
        "uid {uid}: seqs missing (latest {})",
        inbox.latest
    );
    let contents: BTreeSet<&str> = inbox.replayed.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(
        contents.len(),
        inbox.replayed.len(),
        "uid {uid}: a message is stored twice"
    );
    let stored: BTreeMap<u64, &str> = inbox
        .replayed
        .iter()
        .map(|(s, c)| (*s, c.as_str()))
        .collect();
    for (seq, content) in acked {
        assert_eq!(
            stored.get(seq),
            Some(&content.as_str()),
            "uid {uid}: acked seq {seq} is not the acked message"
        );
    }
}

#[tokio::test]
async fn single_messages_cross_nodes_with_the_recipient_s_seqs() {
    let stack = Stack::start(Options::default());
    let mut pool: Vec<std::vec::IntoIter<i64>> =
        users(&stack, 6).into_iter().map(Vec::into_iter).collect();
    // (sender, recipient, sender's node): every ordered pair of nodes, then
    // two users of node 2.
    let mut pairs = Vec::new();
    for a in 1..=NODES {
        for b in (1..=NODES).filter(|&b| b != a) {
            let s = pool[a - 1].next().unwrap();
            let r = pool[b - 1].next().unwrap();
            pairs.push((s, r, a));
        }
    }
    let (s, r) = (pool[1].next().unwrap(), pool[1].next().unwrap());
    pairs.push((s, r, 2));

    let mut clients = Vec::new();
    for &(s, r, _) in &pairs {
        clients.push((stack.connect(s).await, stack.connect(r).await));
    }
    for (sc, rc) in &mut clients {
        for i in 1..=3 {
            sc.send(single(i, rc.uid, &format!("{}-{i}", sc.uid))).await;
        }
    }
    for (sc, rc) in &mut clients {
        for i in 1..=3i64 {
            let got = rc.recv().await;
            assert_eq!(got["userid"], sc.uid, "{got}");
            assert_eq!(got["content"], format!("{}-{i}", sc.uid), "{got}");
            assert_eq!(got["seq"], i, "the recipient's inbox seq: {got}");
            let ack = sc.recv().await;
            assert_eq!(
                (ack["cmd"].as_i64(), ack["id"].as_i64()),
                (Some(20), Some(i))
            );
            assert_eq!(ack["seq"], i, "the ack carries the recipient's seq: {ack}");
            assert_eq!(ack["ts"], got["ts"]);
        }
    }

    // Each node sent three messages for each of two other nodes; the
    // same-node pair crossed nothing.
    for id in 1..=NODES {
        assert_eq!(counter(&stack, id, "imedge_cluster_forwarded_total"), 6.0);
        assert!(
            eventually(|| counter(&stack, id, "imedge_cluster_submits_in_total") == 6.0),
            "node {id} numbered {} forwarded messages, not 6",
            counter(&stack, id, "imedge_cluster_submits_in_total")
        );
        assert_eq!(counter(&stack, id, "imedge_cluster_owner_down_total"), 0.0);
    }

    // nginx logs each WebSocket as it closes: every user reached the node
    // the ring names.
    drop(clients);
    let uids: Vec<i64> = pairs.iter().flat_map(|&(s, r, _)| [s, r]).collect();
    let picks = || -> BTreeMap<i64, String> {
        let log = stack.nginx.access_log();
        log.lines()
            .filter_map(|l| {
                // ... "GET /chat" 101 <uid> <upstream> <status> <time>
                let mut f = l.split("\"GET /chat\" ").nth(1)?.split(' ');
                let (status, uid, upstream) = (f.next()?, f.next()?, f.next()?);
                (status == "101").then(|| (uid.parse().unwrap(), upstream.to_owned()))
            })
            .collect()
    };
    assert!(
        eventually(|| uids.iter().all(|u| picks().contains_key(u))),
        "nginx logged no WebSocket for some users:\n{}",
        stack.nginx.access_log()
    );
    let picks = picks();
    for uid in uids {
        assert_eq!(
            picks[&uid],
            stack.servers[stack.owner(uid) - 1],
            "uid {uid}"
        );
    }
}

/// Messages per sender in the kill test.
const PER_SENDER: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_stream_loses_no_acknowledged_message() {
    const KILLED: usize = 3;
    let mut stack = Stack::start(Options::default());
    let all = users(&stack, 4);
    // Senders on the survivors; two recipients on every node.
    let senders: Vec<i64> = [&all[0][..2], &all[1][..2]].concat();
    let recipients: Vec<i64> = all.iter().flat_map(|u| u[2..].to_vec()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let mut receiving = Vec::new();
    for &r in &recipients {
        receiving.push((r, collect(stack.connect(r).await, stop.clone())));
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::new();
    for (k, &s) in senders.iter().enumerate() {
        let plan: Vec<Planned> = (0..PER_SENDER)
            .map(|i| Planned {
                to: recipients[(i + k) % recipients.len()],
                content: format!("{s}-{i}"),
            })
            .collect();
        let c = stack.connect(s).await;
        let sent = sent.clone();
        streams.push(tokio::spawn(async move {
            let out = stream(c, &plan, 16, Duration::from_millis(2), &sent).await;
            (s, plan, out)
        }));
    }

    let total = senders.len() * PER_SENDER;
    while sent.load(Relaxed) < total / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stack.kill(KILLED);
    let killed_at = sent.load(Relaxed);
    let stack = Arc::new(stack);
    let view = stack.clone();
    let converged = tokio::task::spawn_blocking(move || {
        (1..=NODES)
            .filter(|&id| id != KILLED)
            .all(|id| eventually(|| view.up(id, KILLED) == 0.0))
    })
    .await
    .unwrap();
    assert!(
        converged,
        "a survivor still sees node {KILLED} up after {LIMIT:?}"
    );

    let mut acked: BTreeMap<i64, BTreeMap<u64, String>> = BTreeMap::new();
    let (mut n_acked, mut n_refused, mut silent, mut late) = (0, 0, Vec::new(), 0);
    for task in streams {
        let (s, plan, out): (i64, Vec<Planned>, Outcome) = task.await.unwrap();
        for (&id, &seq) in &out.acked {
            let p = &plan[id as usize - 1];
            let before = acked
                .entry(p.to)
                .or_default()
                .insert(seq, p.content.clone());
            assert_eq!(before, None, "uid {}: seq {seq} acked twice", p.to);
        }
        for (&id, &code) in &out.refused {
            let to = plan[id as usize - 1].to;
            assert_eq!(code, 503, "sender {s}, id {id}: refused with {code}");
            assert_eq!(
                stack.owner(to),
                KILLED,
                "sender {s}, id {id}: refused though its recipient's node lives"
            );
        }
        n_acked += out.acked.len();
        n_refused += out.refused.len();
        late += out.late.len();
        silent.extend(
            out.silent
                .iter()
                .map(|&id| (s, id, plan[id as usize - 1].to)),
        );
    }
    eprintln!(
        "kill test: {total} sent, node {KILLED} killed after {killed_at}; \
         {n_acked} acked, {n_refused} refused (503), {} silent, {late} answered late",
        silent.len()
    );
    // A message forwarded to the killed node just before it died is
    // answered too: with a 503 once the sending node gives up waiting.
    assert!(silent.is_empty(), "messages never answered: {silent:?}");

    stop.store(true, Relaxed);
    for (r, (live, task)) in receiving {
        // The killed node's users lost their connection with it.
        let client = task.await.unwrap();
        assert_eq!(client.is_none(), stack.owner(r) == KILLED, "uid {r}");
        drop(client);
        let live = live.lock().unwrap().clone();
        // Reconnected through nginx: the killed node's users land elsewhere.
        let mut c = stack.connect(r).await;
        let inbox = sync_all(&mut c).await;
        let mine = acked.remove(&r).unwrap_or_default();
        check_inbox(r, &inbox, &mine);
        // With the shared store nothing is shown before it is stored: what
        // arrived live is stored at that seq, the killed node's users too.
        for (seq, content) in &live {
            match inbox.replayed.iter().find(|(s, _)| s == seq) {
                Some((_, c)) => assert_eq!(c, content, "uid {r}: live seq {seq}"),
                None => panic!("uid {r}: live seq {seq} ({content}) is not stored"),
            }
        }
        eprintln!(
            "uid {r} (node {}): {} stored (latest seq {}), {} acked, {} live",
            stack.owner(r),
            inbox.replayed.len(),
            inbox.latest,
            mine.len(),
            live.len()
        );
    }
}

#[tokio::test]
async fn room_messages_cross_nodes_with_the_group_s_seqs() {
    let stack = Stack::start(Options::default());
    let members: Vec<i64> = users(&stack, 2).into_iter().flatten().collect();
    let api = |uid: i64, path: &str, form: &str| stack.node(stack.owner(uid)).api(uid, path, form);
    let gid = api(members[0], "/contact/createcommunity", "name=nginx")["id"]
        .as_i64()
        .unwrap();
    for &m in &members[1..] {
        api(m, "/contact/joincommunity", &format!("dstid={gid}"));
    }
    let mut clients = Vec::new();
    for &m in &members {
        clients.push(stack.connect(m).await);
    }
    // Presence records reach the group's keeper within the flush delay.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // One sender per node, in turn: every other member gets each message
    // once, all with the same seq, in the order the keeper numbered them.
    let mut seqs = Vec::new();
    for (k, i) in [0usize, 2, 4].into_iter().enumerate() {
        let text = format!("from node {}", stack.owner(members[i]));
        clients[i].send(room(k as i64 + 1, gid, &text)).await;
        let ack = clients[i].recv().await;
        assert_eq!(ack["cmd"], 20, "{ack}");
        let seq = ack["seq"].as_u64().unwrap();
        seqs.push(seq);
        for (j, c) in clients.iter_mut().enumerate() {
            if j == i {
                continue;
            }
            let got = c.recv().await;
            assert_eq!(got["seq"].as_u64(), Some(seq), "member {}: {got}", c.uid);
            assert_eq!(got["userid"], members[i], "{got}");
        }
    }
    assert_eq!(seqs, vec![1, 2, 3], "the group's keeper numbers it");
    for c in &mut clients {
        c.expect_silence(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_forged_datagram_is_dropped_and_counted() {
    // Relays that drop nothing: they hand the test real datagrams to replay.
    let stack = Stack::start(Options {
        relays: true,
        drop_every: None,
    });
    let real = |from: u32, to: u32| {
        stack.relays[to as usize - 1]
            .captured()
            .into_iter()
            .rev()
            .find(|d| d[8..12] == from.to_be_bytes() && d[12..16] == to.to_be_bytes())
            .expect("the relay passed a datagram from that node")
    };
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |to: usize, bytes: &[u8]| {
        socket.send_to(bytes, stack.udp[to - 1]).unwrap();
    };
    let reasons = ["replay", "mac", "version", "magic", "misdirected"];
    let before: Vec<Vec<f64>> = (1..=NODES)
        .map(|id| reasons.iter().map(|r| drops(&stack, id, r)).collect())
        .collect();
    let rose = |id: usize, reason: &str, by: f64| {
        let i = reasons.iter().position(|r| *r == reason).unwrap();
        eventually(|| drops(&stack, id, reason) == before[id - 1][i] + by)
    };

    // A genuine datagram node 2 sent node 1, sent again: a replay.
    let genuine = real(2, 1);
    send(1, &genuine);
    assert!(rose(1, "replay", 1.0), "the replay was not counted");

    // The same with its tag broken, and a datagram sealed under another
    // cluster's secret: both fail the MAC.
    let mut tag_broken = genuine.clone();
    *tag_broken.last_mut().unwrap() ^= 0x55;
    send(1, &tag_broken);
    let other = Key::new(b"another-cluster-secret-0123").unwrap();
    assert_ne!(CLUSTER_SECRET.as_bytes(), b"another-cluster-secret-0123");
    let mut body = datagram_buf(12);
    body.extend_from_slice(&[0; 12]);
    let forged = Sealer::new(other, 2, u64::MAX / 2).seal(Kind::Heartbeat, 1, 1, body);
    send(1, &forged);
    assert!(rose(1, "mac", 2.0), "two MAC failures were not counted");

    // Another format version; not an imedge datagram at all.
    let mut version = BytesMut::from(&genuine[..]);
    version[4] = 9;
    send(1, &version);
    assert!(rose(1, "version", 1.0));
    send(
        1,
        b"hello, is this DNS? .............................................",
    );
    assert!(rose(1, "magic", 1.0));

    // Node 3's datagram for node 2, shown to node 1: sealed for another.
    send(1, &real(3, 2));
    assert!(rose(1, "misdirected", 1.0));

    // Nothing else moved, on node 1 or elsewhere.
    let after: Vec<Vec<f64>> = (1..=NODES)
        .map(|id| reasons.iter().map(|r| drops(&stack, id, r)).collect())
        .collect();
    let want: Vec<Vec<f64>> = before
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let plus: [f64; 5] = if i == 0 {
                [1.0, 2.0, 1.0, 1.0, 1.0]
            } else {
                [0.0; 5]
            };
            b.iter().zip(plus).map(|(x, p)| x + p).collect()
        })
        .collect();
    assert_eq!(after, want, "drops by node and reason {reasons:?}");

    // The cluster still serves: every node up, a message crosses 1 -> 2.
    for id in 1..=NODES {
        for peer in 1..=NODES {
            assert_eq!(stack.up(id, peer), 1.0, "node {id} sees {peer} down");
        }
    }
    let all = users(&stack, 1);
    let mut s = stack.connect(all[0][0]).await;
    let mut r = stack.connect(all[1][0]).await;
    s.send(single(1, r.uid, "after the forgeries")).await;
    let got = r.recv().await;
    assert_eq!(
        (got["content"].as_str(), got["seq"].as_i64()),
        (Some("after the forgeries"), Some(1))
    );
    let ack = s.recv().await;
    assert_eq!(
        (ack["cmd"].as_i64(), ack["seq"].as_i64()),
        (Some(20), Some(1)),
        "{ack}"
    );
    assert_eq!(counter(&stack, 1, "imedge_cluster_forwarded_total"), 1.0);
}

/// Messages per sender in the NACK test.
const PER_PAIR: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_datagrams_are_repaired_by_nack() {
    const DROP_EVERY: u64 = 7;
    let stack = Stack::start(Options {
        relays: true,
        drop_every: Some(DROP_EVERY),
    });
    let all = users(&stack, 2);
    // Around the ring: 1 -> 2, 2 -> 3, 3 -> 1.
    let pairs: Vec<(i64, i64)> = (0..NODES)
        .map(|i| (all[i][0], all[(i + 1) % NODES][1]))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut flows = Vec::new();
    let mut reordered = Vec::new();
    for &(s, r) in &pairs {
        let receiving = collect(stack.connect(r).await, stop.clone());
        let plan: Vec<Planned> = (0..PER_PAIR)
            .map(|i| Planned {
                to: r,
                content: format!("{s}-{i}"),
            })
            .collect();
        let c = stack.connect(s).await;
        let sent = sent.clone();
        let sending =
            tokio::spawn(async move { stream(c, &plan, 8, Duration::from_millis(2), &sent).await });
        flows.push((s, r, sending, receiving));
    }
    for (s, r, sending, (live, _)) in &mut flows {
        let out = sending.await.unwrap();
        assert!(
            out.silent.is_empty() && out.refused.is_empty(),
            "sender {s}: {out:?}"
        );
        // Each message numbered once, 1..=100; not always in send order,
        // since a lost submit datagram arrives after later ones (resent).
        let mut seqs: Vec<u64> = out.acked.values().copied().collect();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=PER_PAIR as u64).collect::<Vec<_>>(),
            "sender {s}'s acks"
        );
        let moved = out
            .acked
            .iter()
            .filter(|(&id, &seq)| id as u64 != seq)
            .count();
        reordered.push(moved);
        // Every message reaches the recipient live, in seq order, no gap,
        // each at the seq its ack named.
        let all_live = || live.lock().unwrap().len() >= PER_PAIR;
        let arrived = tokio::task::block_in_place(|| eventually(all_live));
        let got = live.lock().unwrap().clone();
        assert!(arrived, "uid {r} got {} of {PER_PAIR} live", got.len());
        let want: Vec<(u64, String)> = out
            .acked
            .iter()
            .map(|(&id, &seq)| (seq, format!("{s}-{}", id - 1)))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(got, want, "uid {r}'s live messages");
    }
    stop.store(true, Relaxed);
    for (_, _, _, (_, task)) in flows {
        task.await.unwrap().expect("no recipient was disconnected");
    }

    let dropped: Vec<u64> = stack.relays.iter().map(|r| r.dropped()).collect();
    let nacks = stack.total("imedge_cluster_nacks_sent_total");
    let resends = stack.total("imedge_cluster_resends_total");
    eprintln!(
        "nack test: relays dropped {dropped:?}; {nacks} NACK ranges sent, {resends} datagrams \
         resent; messages numbered out of send order per sender: {reordered:?}"
    );
    assert!(
        dropped.iter().all(|&d| d > 0),
        "a relay dropped nothing: {dropped:?}"
    );
    assert!(
        nacks > 0.0 && resends > 0.0,
        "no NACK repair: {nacks} NACKs, {resends} resends"
    );
}
