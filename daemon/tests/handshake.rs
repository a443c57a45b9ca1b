//! Every row of PROTOCOL.md section 1, plain HTTP beside `/chat`, and the
//! handshake deadline, against the real binary.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::start;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

#[test]
fn a_valid_upgrade_switches_protocols_with_the_rfc_accept_key() {
    let d = start(&[]);
    let (status, text) = d.raw_http_until(
        &upgrade(&format!("/chat?id=9&token={}", d.token(9)), ""),
        "\r\n\r\n",
    );
    assert_eq!(status, 101, "{text}");
    assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
}

#[test]
fn every_refusal_row_answers_with_its_status_and_a_json_reason() {
    let d = start(&["--allowed-origins", "https://good.example"]);
    let t = d.token(9);
    let expired = imedge::auth::mint(common::SECRET.as_bytes(), 9, 1);
    let other_user = d.token(10);
    let forged = imedge::auth::mint(b"another secret", 9, u64::MAX / 2);
    let rows: Vec<(String, u16)> = vec![
        (upgrade("/chat?token=x", ""), 400),
        (upgrade(&format!("/chat?id=0&token={t}"), ""), 400),
        (upgrade(&format!("/chat?id=-3&token={t}"), ""), 400),
        (upgrade(&format!("/chat?id=abc&token={t}"), ""), 400),
        (upgrade(&format!("/chat?id=99999999999999999999&token={t}"), ""), 400),
        (upgrade("/chat?id=9", ""), 401),
        (upgrade("/chat?id=9&token=garbage", ""), 401),
        (upgrade(&format!("/chat?id=9&token={expired}"), ""), 401),
        (upgrade(&format!("/chat?id=9&token={other_user}"), ""), 401),
        (upgrade(&format!("/chat?id=9&token={forged}"), ""), 401),
        (upgrade(&format!("/chat?id=9&token={t}"), "Origin: https://evil.example\r\n"), 403),
        (format!("GET /chat?id=9&token={t} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400),
        (format!("GET /chat?id=9&token={t} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400),
        (upgrade(&format!("/chat?id=9&token={t}"), "").replacen("GET", "POST", 1), 400),
        (upgrade(&format!("/chat?id=9&token={t}"), "").replace("Version: 13", "Version: 8"), 426),
    ];
    for (req, want) in rows {
        let (status, text) = d.raw_http(&req);
        assert_eq!(status, want, "request:\n{req}\nanswer:\n{text}");
        let body = text.split_once("\r\n\r\n").unwrap().1;
        assert!(body.starts_with(r#"{"code":-1,"msg":""#), "{body}");
        if want == 426 {
            assert!(text.contains("Sec-WebSocket-Version: 13"), "{text}");
        }
    }
    let (status, _) = d.raw_http_until(
        &upgrade(
            &format!("/chat?id=9&token={t}"),
            "Origin: https://good.example\r\n",
        ),
        "\r\n\r\n",
    );
    assert_eq!(status, 101);
    assert!(d.metric("imedge_handshake_rejections_total{reason=\"bad_token\"}") >= 4.0);
}

#[tokio::test]
async fn at_the_connection_limit_upgrades_get_503_and_a_freed_slot_is_reused() {
    let d = start(&["--max-connections", "2"]);
    let a = d.connect(1).await;
    let _b = d.connect(2).await;
    let (status, text) = d.raw_http(&upgrade(&format!("/chat?id=3&token={}", d.token(3)), ""));
    assert_eq!(status, 503, "{text}");
    drop(a);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio_tungstenite::connect_async(d.url(3)).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok, "a slot freed by a closed connection is available again");
}

#[test]
fn plain_http_health_metrics_404_and_keep_alive() {
    let d = start(&[]);
    let (status, body) = d.get("/healthz");
    assert_eq!(status, 200);
    assert!(body.contains(r#""code":0"#));
    let (status, body) = d.get("/metrics");
    assert_eq!(status, 200);
    for name in [
        "imedge_connections{core=",
        "imedge_frames_in_total",
        "imedge_bytes_out_total",
        "imedge_messages_routed_total{cmd=\"10\"}",
        "imedge_errors_total{code=\"429\"}",
        "imedge_closes_total{code=\"1008\"}",
        "imedge_slow_consumer_closes_total",
        "imedge_handshake_rejections_total{reason=",
        "imedge_driver{core=\"0\",driver=",
    ] {
        assert!(body.contains(name), "metrics lack {name}");
    }
    let (status, body) = d.get("/nope");
    assert_eq!(status, 404);
    assert!(body.starts_with(r#"{"code":-1"#));

    // Two requests on one connection: keep-alive.
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
}

#[test]
fn oversized_requests_get_413() {
    let d = start(&[]);
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(d.raw_http(&huge).0, 413);
    let body = format!(
        "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    assert_eq!(d.raw_http(&body).0, 413);
}

#[test]
fn a_silent_socket_is_closed_at_the_handshake_deadline() {
    let d = start(&["--handshake-timeout-ms", "300"]);
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(d.metric("imedge_handshake_rejections_total{reason=\"timeout\"}") >= 1.0);
}
