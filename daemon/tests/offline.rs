//! Offline messages at connect (PROTOCOL.md section 4) and cmd 30 sync,
//! against the real binary.

mod common;

use std::time::Duration;

use common::{start, Client, Daemon};

/// Reads the offline push up to its marker: (pushed frames, marker).
async fn push(c: &mut Client) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut frames = Vec::new();
    loop {
        let v = c.recv_any().await;
        if v["cmd"] == 31 && v["id"] == 0 {
            return (frames, v);
        }
        frames.push(v);
    }
}

async fn send_acked(a: &mut Client, text: String) -> serde_json::Value {
    a.send(text).await;
    let ack = a.recv().await;
    assert_eq!(ack["cmd"], 20, "{ack}");
    ack
}

fn create_group(d: &Daemon, owner: i64, members: &[i64]) -> i64 {
    let (_, body) = d.post_form(
        "/contact/createcommunity",
        &format!("userid={owner}&token={}&name=g", d.token(owner)),
    );
    let gid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["id"]
        .as_i64()
        .unwrap();
    for &m in members {
        let (status, _) = d.post_form(
            "/contact/joincommunity",
            &format!("userid={m}&token={}&dstid={gid}", d.token(m)),
        );
        assert_eq!(status, 200);
    }
    gid
}

#[tokio::test]
async fn a_user_who_was_offline_gets_what_was_stored_then_the_marker() {
    let d = start(&["--threads", "2"]);
    // B has connected once (so it is known), then goes offline.
    let mut b = d.connect(2).await;
    let (frames, marker) = push(&mut b).await;
    assert!(frames.is_empty());
    assert_eq!(marker["inbox"], 0);
    drop(b);
    let mut a = d.connect(1).await;
    let gid = create_group(&d, 1, &[2]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 1..=3 {
        send_acked(
            &mut a,
            format!(r#"{{"id":{i},"cmd":10,"dstid":2,"content":"m{i}"}}"#),
        )
        .await;
    }
    send_acked(
        &mut a,
        format!(r#"{{"id":9,"cmd":11,"dstid":{gid},"content":"room"}}"#),
    )
    .await;

    let mut b = d.connect(2).await;
    let (frames, marker) = push(&mut b).await;
    let contents: Vec<&str> = frames
        .iter()
        .map(|f| f["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["m1", "m2", "m3", "room"],
        "inbox in seq order, then the group"
    );
    assert_eq!(frames[2]["seq"], 3);
    assert_eq!(marker["inbox"], 3);
    assert_eq!(marker["groups"][gid.to_string()], 1);

    // A second device opened meanwhile gets no push and no marker.
    let mut b2 = d.connect(2).await;
    send_acked(
        &mut a,
        r#"{"id":20,"cmd":10,"dstid":2,"content":"live"}"#.into(),
    )
    .await;
    assert_eq!(b2.recv_any().await["content"], "live");
    assert_eq!(b.recv_any().await["content"], "live");

    // Offline again: only what came after is pushed next time.
    drop((b, b2));
    tokio::time::sleep(Duration::from_millis(100)).await;
    send_acked(
        &mut a,
        r#"{"id":21,"cmd":10,"dstid":2,"content":"later"}"#.into(),
    )
    .await;
    let mut b = d.connect(2).await;
    let (frames, marker) = push(&mut b).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["content"], "later");
    assert_eq!(frames[0]["seq"], 5);
    assert_eq!(marker["inbox"], 5);
}

#[tokio::test]
async fn sync_replays_byte_identical_frames_after_the_given_seqs() {
    let d = start(&["--threads", "2"]);
    let mut b = d.connect(2).await;
    let mut a = d.connect(1).await;
    let mut live = Vec::new();
    for i in 1..=4 {
        send_acked(
            &mut a,
            format!(r#"{{"id":{i},"cmd":10,"dstid":2,"content":"s{i}","x":[{i}]}}"#),
        )
        .await;
        live.push(b.recv().await);
    }
    b.send(r#"{"cmd":30,"id":77,"inbox":2,"groups":{}}"#).await;
    let replayed = [b.recv().await, b.recv().await];
    assert_eq!(replayed[0], live[2]);
    assert_eq!(replayed[1], live[3]);
    let done = b.recv_any().await;
    assert_eq!(
        (
            done["cmd"].as_i64(),
            done["id"].as_i64(),
            done["inbox"].as_i64()
        ),
        (Some(31), Some(77), Some(4))
    );
    assert!(done.get("truncated").is_none());
}
