//! Single messages (cmd 10) between real WebSocket clients, over the real binary.

mod common;

use std::time::Duration;

use common::start;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_single_message_is_stamped_delivered_and_acked() {
    let d = start(&["--threads", "2"]);
    let mut a = d.connect(101).await;
    let mut b = d.connect(202).await;
    a.send(r#"{"id":7,"cmd":10,"dstid":202,"media":1,"content":"hello","x-extra":{"k":[1,2]}}"#)
        .await;
    let got = b.recv().await;
    assert_eq!(got["userid"], 101);
    assert_eq!(got["content"], "hello");
    assert_eq!(got["seq"], 1);
    assert!(got["ts"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(got["x-extra"]["k"][1], 2, "unknown fields are kept");
    let ack = a.recv().await;
    assert_eq!(ack["cmd"], 20);
    assert_eq!(ack["id"], 7);
    assert_eq!(ack["seq"], 1);
    a.send(r#"{"id":8,"cmd":10,"dstid":202,"media":1,"content":"again"}"#)
        .await;
    assert_eq!(
        b.recv().await["seq"],
        2,
        "inbox seq grows by one per message"
    );
    assert_eq!(a.recv().await["seq"], 2);
}

#[tokio::test]
async fn every_device_of_the_recipient_gets_it_and_id_zero_wants_no_ack() {
    let d = start(&["--threads", "2"]);
    let mut a = d.connect(1).await;
    let mut b1 = d.connect(2).await;
    let mut b2 = d.connect(2).await;
    a.send(r#"{"cmd":10,"dstid":2,"media":1,"content":"to both"}"#)
        .await;
    for b in [&mut b1, &mut b2] {
        let got = b.recv().await;
        assert_eq!(got["content"], "to both");
        assert_eq!(got["seq"], 1);
    }
    a.expect_silence(QUIET).await;
}

#[tokio::test]
async fn messages_between_users_on_different_cores_arrive_in_order() {
    let d = start(&["--threads", "2"]);
    let mut a = d.connect(10).await;
    let mut receivers = Vec::new();
    for uid in 11..15 {
        receivers.push(d.connect(uid).await);
    }
    for i in 0..50 {
        for uid in 11..15 {
            a.send(format!(
                r#"{{"id":{},"cmd":10,"dstid":{uid},"content":"{i}"}}"#,
                i + 1
            ))
            .await;
        }
    }
    for b in &mut receivers {
        for i in 0..50u64 {
            let got = b.recv().await;
            assert_eq!(got["content"], i.to_string());
            assert_eq!(got["seq"], i + 1);
        }
    }
    for _ in 0..200 {
        assert_eq!(a.recv().await["cmd"], 20);
    }
}

#[tokio::test]
async fn bad_messages_get_a_cmd_21_and_the_connection_stays_open() {
    let d = start(&[]);
    let mut a = d.connect(5).await;
    let _b = d.connect(6).await;
    let cases = [
        (r#"{"id":1,"cmd":10,"dstid":6"#, 400, 0),
        (r#"[1,2]"#, 400, 0),
        (r#"{"id":2,"cmd":99,"dstid":6}"#, 400, 2),
        (r#"{"id":3,"cmd":10,"dstid":"six"}"#, 400, 3),
        (r#"{"id":4,"cmd":10,"dstid":6,"userid":7}"#, 403, 4),
        (
            r#"{"id":5,"cmd":10,"dstid":6,"userid":5,"userid":7}"#,
            400,
            5,
        ),
        (r#"{"id":6,"cmd":10,"dstid":6,"seq":9}"#, 400, 6),
        (r#"{"id":7,"cmd":10,"dstid":999999}"#, 404, 7),
    ];
    for (text, code, id) in cases {
        a.send(text).await;
        let err = a.recv().await;
        assert_eq!(err["cmd"], 21, "{text}");
        assert_eq!(err["code"], code, "{text}");
        assert_eq!(err["id"], id, "{text}");
        assert!(!err["msg"].as_str().unwrap().is_empty());
    }
    let big = "x".repeat(5000);
    a.send(format!(r#"{{"id":8,"cmd":10,"dstid":6,"url":"{big}"}}"#))
        .await;
    assert_eq!(a.recv().await["code"], 413);
    a.send(r#"{"id":9,"cmd":10,"dstid":6,"userid":5,"content":"fine"}"#)
        .await;
    assert_eq!(a.recv().await["cmd"], 20, "still served after the errors");
}

#[tokio::test]
async fn heartbeats_get_no_answer() {
    let d = start(&[]);
    let mut a = d.connect(1).await;
    a.send(r#"{"cmd":0}"#).await;
    a.expect_silence(QUIET).await;
}
