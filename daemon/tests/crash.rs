//! Nothing acknowledged is lost: the daemon is killed with SIGKILL at a
//! random moment during a stream of messages, 20 times, and restarted on the
//! same data directory; at the end the recipient's offline push holds every
//! acknowledged message, in order, with no gap and no duplicate seq.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use common::{start_in, temp_path, Daemon};

const ROUNDS: usize = 20;
const WINDOW: usize = 16;

fn sqlite(dir: &std::path::Path) -> Vec<String> {
    vec![
        "--store".into(),
        format!("sqlite:{}", dir.join("imedge.db").display()),
        // Every message of the test stays stored, so the final check sees them all.
        "--retention-messages".into(),
        "10000000".into(),
        "--rate-limit".into(),
        "1000000".into(),
        "--rate-burst".into(),
        "1000000".into(),
    ]
}

fn daemon(dir: &std::path::Path) -> Daemon {
    let args = sqlite(dir);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    start_in(dir, &refs)
}

/// A cheap deterministic-per-run pseudo random sequence (xorshift).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill() {
    let dir = temp_path("crash");
    let mut rng = Instant::now().elapsed().as_nanos() as u64 | 1;
    // content -> seq of every acknowledged message.
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut unacked_at_kill = 0;
    {
        // The recipient becomes known, then stays offline.
        let d = daemon(&dir);
        drop(d.connect(2).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for round in 0..ROUNDS {
        let mut d = daemon(&dir);
        let (ws, _) = tokio_tungstenite::connect_async(d.url(1))
            .await
            .expect("connect");
        let (mut tx, mut rx) = ws.split();
        // The kill lands mid-stream, with up to a window of messages unacknowledged.
        let kill_at = Instant::now() + Duration::from_millis(5 + next(&mut rng) % 75);
        let (mut sent, mut inflight) = (0usize, 0usize);
        while Instant::now() < kill_at {
            if inflight < WINDOW {
                sent += 1;
                inflight += 1;
                let text =
                    format!(r#"{{"id":{sent},"cmd":10,"dstid":2,"content":"r{round}-m{sent}"}}"#);
                tx.send(Message::Text(text)).await.expect("send");
                continue;
            }
            let wait = kill_at.saturating_duration_since(Instant::now());
            match tokio::time::timeout(wait, rx.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if v["cmd"] == 20 {
                        inflight -= 1;
                        let id = v["id"].as_u64().unwrap();
                        acked.insert(format!("r{round}-m{id}"), v["seq"].as_u64().unwrap());
                    } else if v["cmd"] == 21 {
                        panic!("refused: {v}");
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(_) => panic!("connection ended before the kill"),
                Err(_) => break,
            }
        }
        unacked_at_kill += inflight;
        d.child.kill().expect("SIGKILL");
        let _ = d.child.wait();
    }
    assert!(
        acked.len() >= ROUNDS,
        "the test acknowledged too little to prove anything: {}",
        acked.len()
    );

    let d = daemon(&dir);
    let mut b = d.connect(2).await;
    // The offline push, then syncs from the last seq received until the
    // latest (one replay carries at most 10,000 messages per log).
    let mut stored: Vec<(u64, String)> = Vec::new();
    let mut sync_id = 0;
    loop {
        let v = b.recv_any().await;
        if v["cmd"] == 31 && v["id"] == sync_id {
            let latest = v["inbox"].as_u64().unwrap();
            let have = stored.last().map_or(0, |(s, _)| *s);
            if have >= latest {
                break;
            }
            sync_id += 1;
            b.send(format!(
                r#"{{"cmd":30,"id":{sync_id},"inbox":{have},"groups":{{}}}}"#
            ))
            .await;
            continue;
        }
        if v["cmd"] == 21 && v["code"] == 503 {
            // The push may be refused while the store recovers; a client then syncs.
            eprintln!("replay refused ({v}); syncing again");
            sync_id += 1;
            let have = stored.last().map_or(0, |(s, _)| *s);
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
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    eprintln!("{ROUNDS} SIGKILLs: {} messages acknowledged, {} stored, {unacked_at_kill} unacknowledged at the kills", acked.len(), stored.len());
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "gapless, in order, no duplicate"
    );
    let by_content: BTreeMap<&str, u64> = stored.iter().map(|(s, c)| (c.as_str(), *s)).collect();
    for (content, seq) in &acked {
        assert_eq!(
            by_content.get(content.as_str()),
            Some(seq),
            "acknowledged {content} (seq {seq}) was lost"
        );
    }
    drop((b, d));
    let _ = std::fs::remove_dir_all(&dir);
}
