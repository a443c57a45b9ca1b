//! Slow consumers and the graceful drain, against the real binary.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{start, Got};

#[tokio::test]
async fn a_slow_consumer_is_closed_with_1008_and_others_keep_being_served() {
    let d = start(&[
        "--threads",
        "2",
        "--outbound-queue-bytes",
        "262144",
        "--rate-limit",
        "1000000",
        "--rate-burst",
        "1000000",
    ]);
    let mut slow = d.raw_ws(20);
    // Shrink its receive buffer so the kernel cannot hide the backlog.
    let rss_before = d.rss_kib();
    let mut a = d.connect(21).await;
    let mut c = d.connect(22).await;
    let big = "x".repeat(60_000);
    for i in 0..400 {
        a.send(format!(r#"{{"cmd":10,"dstid":20,"content":"{big}{i}"}}"#))
            .await;
        if i % 50 == 0 {
            a.send(format!(
                r#"{{"id":{},"cmd":10,"dstid":22,"content":"still here"}}"#,
                i + 1
            ))
            .await;
        }
    }
    for _ in 0..8 {
        assert_eq!(c.recv().await["content"], "still here");
    }
    let mut slow_closed = false;
    for _ in 0..100 {
        if d.metric("imedge_slow_consumer_closes_total") >= 1.0 {
            slow_closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(slow_closed, "the slow consumer was closed");
    let rss_after = d.rss_kib();
    // 400 x 60 KB = 24 MB went to a reader that took none of it; the daemon kept at most its bound.
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    // The slow socket ends with a close 1008 somewhere after the data it had buffered, or a reset.
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sink = Vec::new();
    let _ = slow.read_to_end(&mut sink);
    let tail = &sink[sink.len().saturating_sub(64)..];
    let closed_1008 = tail.windows(2).any(|w| w == [0x03, 0xf0]);
    assert!(closed_1008 || d.metric("imedge_closes_total{code=\"1008\"}") >= 1.0);
    let _ = a.next(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn sigterm_drains_queued_frames_closes_with_1001_and_exits_0() {
    let mut d = start(&["--drain-timeout-ms", "3000"]);
    let mut a = d.connect(1).await;
    let mut b = d.connect(2).await;
    // A keep-alive HTTP connection opened before the drain sees /healthz turn 503.
    let mut http = TcpStream::connect(d.addr).unwrap();
    http.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    http.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = http.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // A second one, to try an upgrade while draining.
    let mut late = TcpStream::connect(d.addr).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    late.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let n = late.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    a.send(r#"{"id":1,"cmd":10,"dstid":2,"content":"before the drain"}"#)
        .await;
    assert_eq!(a.recv().await["cmd"], 20);
    d.terminate();
    tokio::time::sleep(Duration::from_millis(100)).await;
    http.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let n = http.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    let upgrade = format!(
        "GET /chat?id=3&token={} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        d.token(3)
    );
    late.write_all(upgrade.as_bytes()).unwrap();
    let n = late.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503"),
        "upgrade while draining: {}",
        String::from_utf8_lossy(&buf[..n])
    );

    match b.next(Duration::from_secs(5)).await {
        Got::Json(v) => assert_eq!(v["content"], "before the drain"),
        other => panic!("queued frame lost: {other:?}"),
    }
    assert_eq!(b.close_code().await, Some(1001));
    assert_eq!(a.close_code().await, Some(1001));
    drop((a, b));
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(TcpStream::connect(d.addr).is_err(), "no longer accepting");
}

/// The reservations a core takes before showing seqs live are released by
/// an orderly stop: the next start numbers on with no gap (after a crash it
/// resumes above them instead; see `crash.rs`).
#[tokio::test]
async fn an_orderly_stop_leaves_no_gap_in_the_numbering() {
    let dir = common::temp_path("orderly-stop");
    let db = format!("sqlite:{}", dir.join("imedge.db").display());
    let args = ["--store", db.as_str()];
    let mut d = common::start_in(&dir, &args);
    let mut a = d.connect(1).await;
    drop(d.connect(2).await);
    for i in 1..=3i64 {
        a.send(format!(r#"{{"id":{i},"cmd":10,"dstid":2,"content":"x"}}"#))
            .await;
        assert_eq!(a.recv().await["seq"], i);
    }
    d.terminate();
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    let d = common::start_in(&dir, &args);
    let mut a = d.connect(1).await;
    a.send(r#"{"id":4,"cmd":10,"dstid":2,"content":"x"}"#).await;
    let ack = a.recv().await;
    assert_eq!(ack["seq"], 4, "numbering goes on at the next seq: {ack}");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
