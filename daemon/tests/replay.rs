//! Paged, paced replays and store reads off the cores, against the real
//! binary: backlogs past 10,000 messages, backlogs far larger than the
//! outbound queue, live traffic during an offline push, and refusals that
//! need a store answer the cores have not cached.

mod common;

use std::time::Duration;

use common::{start, Client, Daemon, Got};

/// Sends `n` single messages of `content` from `a` to `to`, `CHUNK` at a
/// time, and waits for every ack.
async fn send_many(a: &mut Client, to: i64, n: usize, content: &str) {
    const CHUNK: usize = 200;
    let mut sent = 0;
    while sent < n {
        let k = CHUNK.min(n - sent);
        for i in 0..k {
            let id = sent + i + 1;
            a.send(format!(
                r#"{{"id":{id},"cmd":10,"dstid":{to},"content":"{content}"}}"#
            ))
            .await;
        }
        for _ in 0..k {
            let ack = a.recv().await;
            assert_eq!(ack["cmd"], 20, "{ack}");
        }
        sent += k;
    }
}

/// Reads frames until the cmd 31 with `id`: (the message seqs before it, the cmd 31).
async fn until_done(c: &mut Client, id: i64) -> (Vec<u64>, serde_json::Value) {
    let mut seqs = Vec::new();
    loop {
        let v = match c.next_any(Duration::from_secs(20)).await {
            Got::Json(v) => v,
            other => panic!("expected a replayed message or cmd 31, got {other:?}"),
        };
        if v["cmd"] == 31 && v["id"] == id {
            return (seqs, v);
        }
        assert_eq!(v["cmd"], 10, "only messages are replayed: {v}");
        seqs.push(v["seq"].as_u64().expect("seq"));
    }
}

fn assert_all(seqs: &[u64], n: u64) {
    assert_eq!(seqs.len() as u64, n, "every message, once");
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(*s, i as u64 + 1, "in order, no gap, no duplicate");
    }
}

/// Connects `uid` through a socket with a small receive buffer, so the
/// kernel cannot absorb a large backlog: whatever the client has not read
/// waits on the server.
async fn connect_narrow(d: &Daemon, uid: i64) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let stream = socket.connect(d.addr).await.unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(
        d.url(uid),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("connect");
    assert_eq!(resp.status(), 101);
    Client { ws, uid }
}

fn busy_daemon(extra: &[&str]) -> Daemon {
    let mut flags = vec![
        "--threads",
        "2",
        "--rate-limit",
        "1000000",
        "--rate-burst",
        "1000000",
    ];
    flags.extend_from_slice(extra);
    start(&flags)
}

#[tokio::test]
async fn a_backlog_past_ten_thousand_arrives_whole_by_one_push_and_one_sync() {
    const N: usize = 10_600;
    let d = busy_daemon(&["--store", "memory", "--retention-messages", "100000"]);
    drop(d.connect(2).await);
    let mut a = d.connect(1).await;
    send_many(&mut a, 2, N, "x").await;

    let mut b = d.connect(2).await;
    let (seqs, done) = until_done(&mut b, 0).await;
    assert_all(&seqs, N as u64);
    assert_eq!(done["inbox"], N as u64, "{done}");
    assert_ne!(done["truncated"], true, "{done}");

    b.send(r#"{"cmd":30,"id":7,"inbox":0,"groups":{}}"#).await;
    let (seqs, done) = until_done(&mut b, 7).await;
    assert_all(&seqs, N as u64);
    assert_eq!(done["inbox"], N as u64, "{done}");
}

#[tokio::test]
async fn a_backlog_far_larger_than_the_outbound_queue_is_paced_not_closed() {
    const N: usize = 80;
    let dir = common::temp_path("replay-large");
    let store = format!("sqlite:{}", dir.join("big.db").display());
    std::fs::create_dir_all(&dir).unwrap();
    let d = busy_daemon(&[
        "--store",
        &store,
        "--outbound-queue-bytes",
        "1048576",
        "--max-message-bytes",
        "131072",
    ]);
    drop(d.connect(2).await);
    let mut a = d.connect(1).await;
    let big = "m".repeat(60_000);
    send_many(&mut a, 2, N, &big).await;

    // 4.8 MB stored against a 1 MiB queue; the client does not read at
    // first, so everything past the socket buffers must wait on the server.
    let mut b = connect_narrow(&d, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (seqs, done) = until_done(&mut b, 0).await;
    assert_all(&seqs, N as u64);
    assert_eq!(done["inbox"], N as u64);
    assert_eq!(d.metric("imedge_slow_consumer_closes"), 0.0);
    // Still open: a sync answers.
    b.send(r#"{"cmd":30,"id":3,"inbox":80,"groups":{}}"#).await;
    let (seqs, done) = until_done(&mut b, 3).await;
    assert!(seqs.is_empty());
    assert_eq!(done["inbox"], N as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn live_messages_during_the_push_follow_its_marker_exactly_once() {
    const STORED: usize = 60;
    const LIVE: usize = 20;
    let d = busy_daemon(&[
        "--store",
        "memory",
        "--outbound-queue-bytes",
        "1048576",
        "--max-message-bytes",
        "131072",
    ]);
    drop(d.connect(2).await);
    let mut a = d.connect(1).await;
    let big = "m".repeat(60_000);
    send_many(&mut a, 2, STORED, &big).await;

    // B's push cannot finish while B does not read: the live messages come during it.
    let mut b = connect_narrow(&d, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send_many(&mut a, 2, LIVE, "live").await;

    let (pushed, done) = until_done(&mut b, 0).await;
    let through = done["inbox"].as_u64().unwrap();
    assert_eq!(through, pushed.len() as u64);
    let mut all = pushed;
    while all.len() < STORED + LIVE {
        let v = b.recv().await;
        assert_eq!(v["cmd"], 10, "{v}");
        let seq = v["seq"].as_u64().unwrap();
        assert!(seq > through, "a live frame after the marker is past it");
        all.push(seq);
    }
    assert_all(&all, (STORED + LIVE) as u64);
    b.expect_silence(Duration::from_millis(300)).await;
}

fn post(d: &Daemon, path: &str, uid: i64, rest: &str) -> serde_json::Value {
    let (status, body) = d.post_form(path, &format!("userid={uid}&token={}{rest}", d.token(uid)));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn refusals_that_need_the_store_are_still_right_across_cores() {
    let d = busy_daemon(&["--store", "memory"]);
    let mut a = d.connect(1).await;
    // Gids and uids of both parities land on both cores.
    for (id, dst) in [(1, 999_001), (2, 999_002)] {
        a.send(format!(
            r#"{{"id":{id},"cmd":10,"dstid":{dst},"content":"?"}}"#
        ))
        .await;
        let v = a.recv().await;
        assert_eq!(
            (v["cmd"].as_i64(), v["code"].as_i64()),
            (Some(21), Some(404)),
            "{v}"
        );
    }
    for (id, gid) in [(3, 888_001), (4, 888_002)] {
        a.send(format!(
            r#"{{"id":{id},"cmd":11,"dstid":{gid},"content":"?"}}"#
        ))
        .await;
        let v = a.recv().await;
        assert_eq!(v["code"], 404, "{v}");
    }
    // Groups owned by someone else, on both cores: A is not a member.
    let mut gids = Vec::new();
    for _ in 0..2 {
        let g = post(&d, "/contact/createcommunity", 2, "&name=g")["data"]["id"]
            .as_i64()
            .unwrap();
        gids.push(g);
    }
    for (i, &gid) in gids.iter().enumerate() {
        let id = 10 + i;
        a.send(format!(
            r#"{{"id":{id},"cmd":11,"dstid":{gid},"content":"?"}}"#
        ))
        .await;
        let v = a.recv().await;
        assert_eq!(v["code"], 403, "{v}");
        // Joined: accepted (the refusal was not cached).
        post(&d, "/contact/joincommunity", 1, &format!("&dstid={gid}"));
        a.send(format!(
            r#"{{"id":{id},"cmd":11,"dstid":{gid},"content":"in"}}"#
        ))
        .await;
        let v = a.recv().await;
        assert_eq!(v["cmd"], 20, "{v}");
        // Left: refused at once, though the membership was cached.
        post(&d, "/contact/leavecommunity", 1, &format!("&dstid={gid}"));
        a.send(format!(
            r#"{{"id":{id},"cmd":11,"dstid":{gid},"content":"out"}}"#
        ))
        .await;
        let v = a.recv().await;
        assert_eq!(v["code"], 403, "{v}");
    }
}
