//! Room messages (cmd 11) and the group endpoints, against the real binary.

mod common;

use std::time::Duration;

use common::start;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_room_message_reaches_every_member_connection_but_the_sending_one() {
    let d = start(&["--threads", "2"]);
    let mut a1 = d.connect(1).await;
    let mut a2 = d.connect(1).await;
    let mut b = d.connect(2).await;
    let mut c = d.connect(3).await;
    let mut outsider = d.connect(4).await;
    let g = d.api(1, "/contact/createcommunity", "name=friends")["id"]
        .as_i64()
        .unwrap();
    d.api(2, "/contact/joincommunity", &format!("dstid={g}"));
    d.api(3, "/contact/joincommunity", &format!("dstid={g}"));

    a1.send(format!(
        r#"{{"id":5,"cmd":11,"dstid":{g},"media":1,"content":"hi all"}}"#
    ))
    .await;
    let ack = a1.recv().await;
    assert_eq!(
        (ack["cmd"].as_i64(), ack["id"].as_i64(), ack["seq"].as_i64()),
        (Some(20), Some(5), Some(1))
    );
    let mut frames = Vec::new();
    for r in [&mut a2, &mut b, &mut c] {
        let got = r.recv().await;
        assert_eq!(got["content"], "hi all");
        assert_eq!(got["userid"], 1);
        assert_eq!(got["seq"], 1);
        frames.push(got.to_string());
    }
    assert!(
        frames.windows(2).all(|w| w[0] == w[1]),
        "every member gets the same bytes"
    );
    a1.expect_silence(QUIET).await;
    outsider.expect_silence(Duration::from_millis(10)).await;

    b.send(format!(
        r#"{{"id":6,"cmd":11,"dstid":{g},"content":"second"}}"#
    ))
    .await;
    assert_eq!(b.recv().await["seq"], 2);
    assert_eq!(
        a1.recv().await["seq"],
        2,
        "group seq grows by one per message"
    );
}

/// With `--gather-above 1` the cores wait a timer tick before their
/// writing passes almost from the start: every frame still arrives once,
/// whole and in order, and the waiting shows in the metrics.
#[tokio::test]
async fn a_core_that_gathers_its_writes_delivers_every_frame_once_in_order() {
    const N: i64 = 300;
    let d = start(&["--threads", "2", "--gather-above", "1"]);
    let mut sender = d.connect(1).await;
    let mut members = Vec::new();
    for uid in 2..=5 {
        members.push(d.connect(uid).await);
    }
    let g = d.api(1, "/contact/createcommunity", "name=gathered")["id"]
        .as_i64()
        .unwrap();
    for uid in 2..=5 {
        d.api(uid, "/contact/joincommunity", &format!("dstid={g}"));
    }
    // Ids from 1: a message with id 0 asks for no ack.
    for i in 0..N {
        sender
            .send(format!(
                r#"{{"id":{},"cmd":11,"dstid":{g},"content":"m{i}"}}"#,
                i + 1
            ))
            .await;
    }
    for i in 0..N {
        let ack = sender.recv().await;
        assert_eq!(
            (ack["cmd"].as_i64(), ack["id"].as_i64(), ack["seq"].as_i64()),
            (Some(20), Some(i + 1), Some(i + 1))
        );
    }
    for m in &mut members {
        for i in 0..N {
            let got = m.recv().await;
            assert_eq!(
                (got["seq"].as_i64(), got["content"].as_str()),
                (Some(i + 1), Some(&*format!("m{i}")))
            );
        }
        m.expect_silence(QUIET).await;
    }
    assert!(d.metric("imedge_gathered_passes_total") > 0.0);
}

#[tokio::test]
async fn non_members_unknown_groups_and_leavers() {
    let d = start(&["--threads", "2"]);
    let mut a = d.connect(1).await;
    let mut b = d.connect(2).await;
    let created = d.api(
        1,
        "/contact/createcommunity",
        "name=club&icon=%2Fimg%2Fclub.png&memo=Tuesdays+%26+Fridays",
    );
    let g = created["id"].as_i64().unwrap();
    assert_eq!(
        (created["icon"].as_str(), created["memo"].as_str()),
        (Some("/img/club.png"), Some("Tuesdays & Fridays"))
    );
    b.send(format!(
        r#"{{"id":1,"cmd":11,"dstid":{g},"content":"let me in"}}"#
    ))
    .await;
    assert_eq!(b.recv().await["code"], 403);
    b.send(r#"{"id":2,"cmd":11,"dstid":424242,"content":"?"}"#)
        .await;
    assert_eq!(b.recv().await["code"], 404);

    d.api(2, "/contact/joincommunity", &format!("dstid={g}"));
    let groups = d.api(2, "/contact/loadcommunity", "");
    assert_eq!(groups[0]["id"], g);
    assert_eq!(groups[0]["name"], "club");
    assert_eq!(groups[0]["icon"], "/img/club.png", "kept with the group");
    assert_eq!(groups[0]["memo"], "Tuesdays & Fridays");
    a.send(format!(r#"{{"cmd":11,"dstid":{g},"content":"welcome"}}"#))
        .await;
    assert_eq!(b.recv().await["content"], "welcome");

    d.api(2, "/contact/leavecommunity", &format!("dstid={g}"));
    a.send(format!(r#"{{"cmd":11,"dstid":{g},"content":"gone?"}}"#))
        .await;
    b.expect_silence(QUIET).await;
    b.send(format!(
        r#"{{"id":3,"cmd":11,"dstid":{g},"content":"back?"}}"#
    ))
    .await;
    assert_eq!(b.recv().await["code"], 403);
}

#[test]
fn the_group_api_refuses_bad_input_with_a_reason() {
    let d = start(&[]);
    let t = d.token(1);
    for (path, form, want) in [
        ("/contact/createcommunity", "name=x".to_owned(), 401),
        (
            "/contact/createcommunity",
            format!("userid=1&token={t}&name="),
            400,
        ),
        (
            "/contact/createcommunity",
            format!("userid=1&token={t}&name={}", "n".repeat(65)),
            400,
        ),
        (
            "/contact/joincommunity",
            format!("userid=1&token={t}&dstid=abc"),
            400,
        ),
        (
            "/contact/joincommunity",
            format!("userid=1&token={t}&dstid=777"),
            404,
        ),
        (
            "/contact/joincommunity",
            format!("userid=2&token={t}&dstid=1"),
            401,
        ),
    ] {
        let (status, body) = d.post_form(path, &form);
        assert_eq!(status, want, "{path} {form}: {body}");
        assert!(body.starts_with(r#"{"code":-1,"msg":""#), "{body}");
    }
    let (status, _) = d.get("/contact/loadcommunity");
    assert_eq!(status, 405);
}
