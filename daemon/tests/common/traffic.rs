//! Client-side traffic for cluster tests: a sender streaming cmd 10
//! messages with a bounded window and recording what became of each, a
//! recipient collecting what arrives live, and a cmd 30 sync reading back a
//! user's whole stored inbox.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Got};

/// How long a message may go unanswered before it counts as silent: well
/// past the daemon's own limit for a forwarded message (5 s, then a 503).
pub const SILENCE: Duration = Duration::from_secs(10);

/// A cmd 10 message as a client sends it.
pub fn single(id: i64, dstid: i64, content: &str) -> String {
    format!(r#"{{"id":{id},"cmd":10,"dstid":{dstid},"media":1,"content":"{content}"}}"#)
}

/// A cmd 11 message as a client sends it.
pub fn room(id: i64, gid: i64, content: &str) -> String {
    format!(r#"{{"id":{id},"cmd":11,"dstid":{gid},"media":1,"content":"{content}"}}"#)
}

/// One message a sender means to send.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The recipient.
    pub to: i64,
    /// Its content, unique in the test.
    pub content: String,
}

/// What became of a sender's messages, by client id (1-based plan index).
#[derive(Debug, Default)]
pub struct Outcome {
    /// Acked: the recipient's inbox seq from the cmd 20.
    pub acked: BTreeMap<i64, u64>,
    /// Refused with cmd 21: its code.
    pub refused: BTreeMap<i64, i64>,
    /// Neither within [`SILENCE`].
    pub silent: Vec<i64>,
    /// Answered after they had been counted silent (also in `acked` or
    /// `refused`).
    pub late: Vec<i64>,
}

/// Sends `plan` as cmd 10 messages with ids 1, 2, ..., one per `pace`
/// while fewer than `window` are unanswered, until every one is answered
/// or silent; counts each sent message in `sent`. Panics if the connection
/// closes or an answer makes no sense.
pub async fn stream(
    c: Client,
    plan: &[Planned],
    window: usize,
    pace: Duration,
    sent: &AtomicUsize,
) -> Outcome {
    let uid = c.uid;
    let (mut tx, mut rx) = c.ws.split();
    let mut out = Outcome::default();
    // Ids are sent in order, so the first unanswered is the oldest.
    let mut inflight: BTreeMap<i64, Instant> = BTreeMap::new();
    let mut next = 0usize;
    let mut tick = tokio::time::interval(pace);
    while next < plan.len() || !inflight.is_empty() {
        let expiry = inflight.values().next().map(|&t| t + SILENCE);
        tokio::select! {
            _ = tick.tick(), if next < plan.len() && inflight.len() < window => {
                let p = &plan[next];
                next += 1;
                let id = next as i64;
                tx.send(Message::Text(single(id, p.to, &p.content))).await.expect("send");
                inflight.insert(id, Instant::now());
                sent.fetch_add(1, Relaxed);
            }
            _ = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                let now = Instant::now();
                let old: Vec<i64> = inflight
                    .iter()
                    .filter(|(_, &t)| t + SILENCE <= now)
                    .map(|(&id, _)| id)
                    .collect();
                for id in old {
                    inflight.remove(&id);
                    out.silent.push(id);
                }
            }
            frame = rx.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        panic!("sender {uid}: connection closed with {} unanswered", inflight.len())
                    }
                    Some(Ok(_)) => continue,
                };
                let v: Value = serde_json::from_str(&text).expect("json");
                let id = v["id"].as_i64().unwrap_or(0);
                match v["cmd"].as_i64() {
                    Some(31) if id == 0 => continue,
                    Some(20) => {
                        out.acked.insert(id, v["seq"].as_u64().expect("an ack has a seq"));
                    }
                    Some(21) => {
                        out.refused.insert(id, v["code"].as_i64().unwrap_or(0));
                    }
                    _ => panic!("sender {uid}: unexpected frame {v}"),
                }
                if inflight.remove(&id).is_none() {
                    assert!(out.silent.contains(&id), "sender {uid}: a second answer for id {id}: {v}");
                    out.late.push(id);
                }
            }
        }
    }
    out
}

/// What a recipient got live: (seq, content) in arrival order.
pub type Live = Arc<Mutex<Vec<(u64, String)>>>;

/// Reads `c`'s live messages into the returned list until `stop` is set
/// (then hands the client back) or the connection closes (then `None`).
pub fn collect(
    mut c: Client,
    stop: Arc<AtomicBool>,
) -> (Live, tokio::task::JoinHandle<Option<Client>>) {
    let live: Live = Arc::default();
    let list = live.clone();
    let task = tokio::spawn(async move {
        while !stop.load(Relaxed) {
            match c.next(Duration::from_millis(100)).await {
                Got::Json(v) => {
                    let seq = v["seq"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("uid {}: unexpected frame {v}", c.uid));
                    let content = v["content"].as_str().unwrap_or_default().to_owned();
                    list.lock().unwrap().push((seq, content));
                }
                Got::Close(_) => return None,
                Got::Timeout => {}
            }
        }
        Some(c)
    });
    (live, task)
}

/// A user's stored inbox as one cmd 30 replays it.
#[derive(Debug)]
pub struct Inbox {
    /// (seq, content) in the order the replay sent them.
    pub replayed: Vec<(u64, String)>,
    /// The latest inbox seq, from the cmd 31.
    pub latest: u64,
    /// Whether the cmd 31 said retention dropped some.
    pub truncated: bool,
}

/// Sends `{"cmd":30,"id":1,"inbox":0}` on a fresh connection and reads the
/// replay up to its cmd 31. An offline push running at connect comes
/// first (syncs wait behind it) and ends with its own marker, so what came
/// before that marker is not part of the replay.
pub async fn sync_all(c: &mut Client) -> Inbox {
    c.send(r#"{"cmd":30,"id":1,"inbox":0,"groups":{}}"#).await;
    let mut replayed = Vec::new();
    loop {
        let v = c.recv_any().await;
        match (v["cmd"].as_i64(), v["id"].as_i64()) {
            (Some(31), Some(0)) => replayed.clear(),
            (Some(31), Some(1)) => {
                return Inbox {
                    replayed,
                    latest: v["inbox"].as_u64().expect("cmd 31 has inbox"),
                    truncated: v["truncated"] == true,
                }
            }
            _ => {
                let seq = v["seq"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("uid {}: unexpected frame {v}", c.uid));
                let content = v["content"].as_str().unwrap_or_default().to_owned();
                replayed.push((seq, content));
            }
        }
    }
}
