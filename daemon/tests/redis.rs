//! The Redis store behind the real binary, on a real redis-server started
//! by the test: acknowledged messages survive a daemon restart, and a Redis
//! restart mid-stream refuses what arrives while it is down (cmd 21 code
//! 503, HTTP 503) and loses nothing that was acknowledged.

mod common;
#[path = "../src/store/redis/test_server.rs"]
mod test_server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{start, Client, Daemon};
use test_server::RedisServer;

fn daemon(redis: &RedisServer) -> Daemon {
    let url = redis.url(0);
    start(&[
        "--store",
        &url,
        "--threads",
        "2",
        "--rate-limit",
        "1000000",
        "--rate-burst",
        "1000000",
    ])
}

/// Sends a single message to uid 2 and returns the answer (cmd 20 or 21).
async fn send(a: &mut Client, id: u64, content: &str) -> serde_json::Value {
    a.send(format!(
        r#"{{"id":{id},"cmd":10,"dstid":2,"content":"{content}"}}"#
    ))
    .await;
    let v = a.recv().await;
    assert!(v["cmd"] == 20 || v["cmd"] == 21, "{v}");
    v
}

/// Everything stored for uid 2's inbox as (seq, content): the offline push,
/// then syncs until the latest seq.
async fn stored_inbox(d: &Daemon) -> Vec<(u64, String)> {
    let mut b = d.connect(2).await;
    let mut stored: Vec<(u64, String)> = Vec::new();
    let mut sync_id = 0;
    loop {
        let v = b.recv_any().await;
        if v["cmd"] == 31 && v["id"] == sync_id {
            let have = stored.last().map_or(0, |(s, _)| *s);
            if have >= v["inbox"].as_u64().unwrap() {
                return stored;
            }
            sync_id += 1;
            b.send(format!(
                r#"{{"cmd":30,"id":{sync_id},"inbox":{have},"groups":{{}}}}"#
            ))
            .await;
            continue;
        }
        let seq = v["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("unexpected frame {v}"));
        stored.push((seq, v["content"].as_str().unwrap_or_default().to_owned()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_a_daemon_restart() {
    let redis = RedisServer::start("daemon-restart");
    let mut d = daemon(&redis);
    drop(d.connect(2).await);
    let (status, body) = d.post_form(
        "/contact/createcommunity",
        &format!("userid=1&token={}&name=room", d.token(1)),
    );
    assert_eq!(status, 200, "{body}");
    let gid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["id"]
        .as_i64()
        .unwrap();
    let (status, _) = d.post_form(
        "/contact/joincommunity",
        &format!("userid=2&token={}&dstid={gid}", d.token(2)),
    );
    assert_eq!(status, 200);
    let mut a = d.connect(1).await;
    for i in 1..=5 {
        let v = send(&mut a, i, &format!("m{i}")).await;
        assert_eq!((v["cmd"].as_u64(), v["seq"].as_u64()), (Some(20), Some(i)));
    }
    a.send(format!(
        r#"{{"id":9,"cmd":11,"dstid":{gid},"content":"room"}}"#
    ))
    .await;
    assert_eq!(a.recv().await["cmd"], 20);
    drop(a);
    // SIGKILL: nothing is flushed on the way out; only Redis holds the messages.
    d.child.kill().unwrap();
    let _ = d.child.wait();

    let d = daemon(&redis);
    let mut b = d.connect(2).await;
    let mut pushed = Vec::new();
    loop {
        let v = b.recv_any().await;
        if v["cmd"] == 31 && v["id"] == 0 {
            break;
        }
        pushed.push(
            v["content"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_owned(),
        );
    }
    assert_eq!(pushed, ["m1", "m2", "m3", "m4", "m5", "room"]);
    // A sync from seq 3 replays the rest of the inbox, and the numbering
    // continues above every seq the killed daemon may have shown live: it
    // had reserved them (server/numbering.rs), so after a crash the latest
    // seq is the reservation's top and the next message comes right above.
    b.send(r#"{"cmd":30,"id":1,"inbox":3,"groups":{}}"#).await;
    let (m4, m5, done) = (b.recv_any().await, b.recv_any().await, b.recv_any().await);
    assert_eq!((m4["seq"].as_u64(), m5["seq"].as_u64()), (Some(4), Some(5)));
    assert_eq!(done["cmd"].as_u64(), Some(31));
    let latest = done["inbox"].as_u64().unwrap();
    assert!(latest >= 5, "cmd 31 reports the numbering base: {done}");
    let mut a = d.connect(1).await;
    // uid 1 is in the room too: its own offline push comes first.
    while !(a.recv_any().await["cmd"] == 31) {}
    let v = send(&mut a, 6, "m6").await;
    assert_eq!(
        (v["cmd"].as_u64(), v["seq"].as_u64()),
        (Some(20), Some(latest + 1))
    );
    let live = b.recv_any().await;
    assert_eq!(live["seq"].as_u64(), Some(latest + 1), "{live}");
    // The sync after the gap brings the new message, and nothing for the skipped seqs.
    b.send(r#"{"cmd":30,"id":2,"inbox":5,"groups":{}}"#).await;
    let (m6, done) = (b.recv_any().await, b.recv_any().await);
    assert_eq!(
        (m6["seq"].as_u64(), m6["content"].as_str()),
        (Some(latest + 1), Some("m6"))
    );
    assert_eq!(
        (done["cmd"].as_u64(), done["inbox"].as_u64()),
        (Some(31), Some(latest + 1))
    );
    assert_ne!(
        done["truncated"], true,
        "a crash's gap is not a truncation: {done}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_refuses_then_resumes_and_loses_nothing_acknowledged() {
    let mut redis = RedisServer::start("redis-restart");
    let d = daemon(&redis);
    drop(d.connect(2).await);
    let mut a = d.connect(1).await;
    // content -> seq of every acknowledged message.
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut id = 0;
    for _ in 0..20 {
        id += 1;
        let v = send(&mut a, id, &format!("before{id}")).await;
        assert_eq!(v["cmd"], 20, "{v}");
        acked.insert(format!("before{id}"), v["seq"].as_u64().unwrap());
    }

    redis.kill();
    let mut refused = Vec::new();
    for _ in 0..10 {
        id += 1;
        let v = send(&mut a, id, &format!("down{id}")).await;
        assert_eq!(
            (v["cmd"].as_u64(), v["code"].as_u64()),
            (Some(21), Some(503)),
            "{v}"
        );
        refused.push(format!("down{id}"));
    }
    let (status, body) = d.post_form(
        "/contact/createcommunity",
        &format!("userid=1&token={}&name=outage", d.token(1)),
    );
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(json["code"], -1);
    assert!(json["msg"].as_str().unwrap().contains("store"), "{json}");

    redis.restart();
    // Service resumes once the daemon has reconnected (back-off capped at 2 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut resumed = false;
    while Instant::now() < deadline && !resumed {
        id += 1;
        let content = format!("after{id}");
        let v = send(&mut a, id, &content).await;
        if v["cmd"] == 20 {
            acked.insert(content, v["seq"].as_u64().unwrap());
            resumed = true;
        } else {
            refused.push(content);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        resumed,
        "the daemon never stored again after redis came back"
    );
    for _ in 0..20 {
        id += 1;
        let v = send(&mut a, id, &format!("after{id}")).await;
        assert_eq!(v["cmd"], 20, "{v}");
        acked.insert(format!("after{id}"), v["seq"].as_u64().unwrap());
    }

    let stored = stored_inbox(&d).await;
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    // The outage failed appends that had been shown live: numbering went on
    // above their reservation, so the stored seqs may jump once there, but
    // are in order, with no duplicate.
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate: {seqs:?}"
    );
    assert_eq!(
        seqs.iter().filter(|s| **s <= 20).count(),
        20,
        "the 20 before the outage are 1..=20"
    );
    let by_content: BTreeMap<&str, u64> = stored.iter().map(|(s, c)| (c.as_str(), *s)).collect();
    for (content, seq) in &acked {
        assert_eq!(
            by_content.get(content.as_str()),
            Some(seq),
            "acknowledged {content} (seq {seq}) was lost"
        );
    }
    for content in refused.iter().filter(|c| c.starts_with("down")) {
        assert!(
            !by_content.contains_key(content.as_str()),
            "{content} was refused while redis was down, yet stored"
        );
    }
    assert_eq!(
        stored.len(),
        acked.len(),
        "nothing but the acknowledged is stored"
    );
}
