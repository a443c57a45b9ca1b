//! The account and friend endpoints of the HTTP API, against the real binary.

mod common;

use std::time::Duration;

use common::{start, Daemon};

fn post(d: &Daemon, path: &str, form: &str) -> (u16, serde_json::Value) {
    let (status, body) = d.post_form(path, form);
    let v = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: {body}"));
    (status, v)
}

#[tokio::test]
async fn register_login_and_chat_with_the_token() {
    let d = start(&[]);
    let (status, reg) = post(
        &d,
        "/user/register",
        "mobile=13800000001&password=secret-1&nickname=Alice",
    );
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["code"], 0);
    let uid = reg["data"]["id"].as_i64().unwrap();
    assert_eq!(reg["data"]["nickname"], "Alice");

    let (status, login) = post(&d, "/user/login", "mobile=13800000001&password=secret-1");
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["data"]["id"], uid);
    let token = login["data"]["token"].as_str().unwrap();
    let url = format!("ws://{}/chat?id={uid}&token={token}", d.addr);
    let (_ws, resp) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the login token opens /chat");
    assert_eq!(resp.status(), 101);

    let (status, bad) = post(&d, "/user/login", "mobile=13800000001&password=wrong-one");
    assert_eq!(status, 401);
    assert_eq!(bad["code"], -1);
    let (status, _) = post(&d, "/user/login", "mobile=13899999999&password=whatever");
    assert_eq!(status, 401, "an unknown mobile looks like a wrong password");
    let (status, dup) = post(
        &d,
        "/user/register",
        "mobile=13800000001&password=another-1",
    );
    assert_eq!(status, 409, "{dup}");
}

#[test]
fn json_bodies_and_bearer_tokens_work_too() {
    let d = start(&[]);
    let body = r#"{"mobile":"+8613800000002","password":"secret-2"}"#;
    let (status, text) = d.raw_http(&format!(
        "POST /user/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value =
        serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    let token = v["data"]["token"].as_str().unwrap();
    assert_eq!(
        v["data"]["nickname"], "+8613800000002",
        "nickname defaults to the mobile"
    );
    let (status, text) = d.raw_http(&format!(
        "POST /contact/loadfriend HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    ));
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with(r#""data":[]}"#), "{text}");
}

#[test]
fn friends_are_mutual_and_listed_with_names() {
    let d = start(&[]);
    let (_, a) = post(
        &d,
        "/user/register",
        "mobile=1000001&password=secret-a&nickname=A",
    );
    let (_, b) = post(
        &d,
        "/user/register",
        "mobile=1000002&password=secret-b&nickname=B",
    );
    let (a, ta) = (
        a["data"]["id"].as_i64().unwrap(),
        a["data"]["token"].as_str().unwrap().to_owned(),
    );
    let (b, tb) = (
        b["data"]["id"].as_i64().unwrap(),
        b["data"]["token"].as_str().unwrap().to_owned(),
    );
    let (status, _) = post(
        &d,
        "/contact/addfriend",
        &format!("userid={a}&token={ta}&dstid={b}"),
    );
    assert_eq!(status, 200);
    let (_, list) = post(&d, "/contact/loadfriend", &format!("userid={b}&token={tb}"));
    assert_eq!(
        list["data"],
        serde_json::json!([{"id": a, "nickname": "A"}])
    );
    let (status, _) = post(
        &d,
        "/contact/addfriend",
        &format!("userid={a}&token={ta}&dstid=424242"),
    );
    assert_eq!(status, 404);
    let (status, _) = post(
        &d,
        "/contact/addfriend",
        &format!("userid={a}&token={ta}&dstid={a}"),
    );
    assert_eq!(status, 400);
}

#[test]
fn bad_input_gets_a_reason_and_logins_are_rate_limited() {
    let d = start(&[]);
    for (form, want) in [
        ("mobile=12&password=secret-1", 400),
        ("mobile=abcdefg&password=secret-1", 400),
        ("mobile=13800000003&password=short", 400),
        (
            &*format!(
                "mobile=13800000003&password=secret-1&nickname={}",
                "n".repeat(65)
            ),
            400,
        ),
    ] {
        let (status, v) = post(&d, "/user/register", form);
        assert_eq!(status, want, "{form}: {v}");
        assert!(!v["msg"].as_str().unwrap().is_empty());
    }
    let (status, _) = d.get("/user/login");
    assert_eq!(status, 405);
    post(&d, "/user/register", "mobile=13800000004&password=secret-4");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(post(&d, "/user/login", "mobile=13800000004&password=wrong-pass").0);
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        2,
        "{statuses:?}"
    );
    std::thread::sleep(Duration::from_millis(10));
}
