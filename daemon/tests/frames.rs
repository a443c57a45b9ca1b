//! Frame-level rules of PROTOCOL.md section 2 against the real binary:
//! each violation closes with its code; ping, pong and close behave per RFC 6455.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{raw_frame, read_close, start};

const MASK: Option<[u8; 4]> = Some([1, 2, 3, 4]);

fn closes_with(extra: &[&str], frames: &[Vec<u8>], want: u16) {
    let d = start(extra);
    let mut s = d.raw_ws(3);
    for f in frames {
        s.write_all(f).unwrap();
    }
    assert_eq!(read_close(&mut s), Some(want), "frames {frames:?}");
}

#[test]
fn binary_frames_close_with_1003() {
    closes_with(&[], &[raw_frame(0x82, b"bin", MASK)], 1003);
}

#[test]
fn oversized_messages_close_with_1009_from_the_header() {
    // Only the header of a 1 MiB frame is sent: the refusal cannot wait for the payload.
    let mut head = raw_frame(0x81, &[], MASK);
    head[1] = 0x80 | 127;
    head.splice(2..2, (1u64 << 20).to_be_bytes());
    closes_with(&["--max-message-bytes", "1024"], &[head], 1009);
    // And a fragmented message whose total passes the limit.
    let a = raw_frame(0x01, &[b'a'; 800], MASK);
    let b = raw_frame(0x80, &[b'b'; 800], MASK);
    closes_with(&["--max-message-bytes", "1024"], &[a, b], 1009);
}

#[test]
fn invalid_utf8_closes_with_1007() {
    closes_with(
        &[],
        &[raw_frame(0x81, b"{\"cmd\":0,\"x\":\"\xff\"}", MASK)],
        1007,
    );
    // Split across fragments: the invalid sequence starts in the first one.
    closes_with(
        &[],
        &[
            raw_frame(0x01, b"ok \xf0\x28", MASK),
            raw_frame(0x80, b"\x8c\x28", MASK),
        ],
        1007,
    );
}

#[test]
fn protocol_violations_close_with_1002() {
    closes_with(&[], &[raw_frame(0x81, b"{}", None)], 1002); // unmasked
    closes_with(&[], &[raw_frame(0xC1, b"{}", MASK)], 1002); // RSV1
    closes_with(&[], &[raw_frame(0x83, b"", MASK)], 1002); // opcode 3
    closes_with(&[], &[raw_frame(0x09, b"", MASK)], 1002); // fragmented ping
    closes_with(&[], &[raw_frame(0x89, &[0u8; 126], MASK)], 1002); // ping > 125
    closes_with(&[], &[raw_frame(0x80, b"x", MASK)], 1002); // continuation first
    closes_with(&[], &[raw_frame(0x88, &1005u16.to_be_bytes(), MASK)], 1002); // reserved code
}

#[tokio::test]
async fn fragmented_text_with_interleaved_ping_is_one_message() {
    let d = start(&[]);
    let mut b = d.connect(8).await;
    let mut s = d.raw_ws(7);
    let msg = br#"{"cmd":10,"dstid":8,"content":"in three parts"}"#;
    s.write_all(&raw_frame(0x01, &msg[..10], MASK)).unwrap();
    s.write_all(&raw_frame(0x89, b"hi", MASK)).unwrap();
    s.write_all(&raw_frame(0x00, &msg[10..20], MASK)).unwrap();
    s.write_all(&raw_frame(0x80, &msg[20..], MASK)).unwrap();
    let got = b.recv().await;
    assert_eq!(got["content"], "in three parts");
    assert_eq!(got["userid"], 7);
}

#[test]
fn a_client_close_is_echoed_and_the_socket_closed() {
    closes_with(
        &[],
        &[raw_frame(0x88, &[0x0f, 0xa0, b'b', b'y', b'e'], MASK)],
        4000,
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_and_keeps_the_connection() {
    let d = start(&["--rate-limit", "5", "--rate-burst", "5"]);
    let mut a = d.connect(1).await;
    let _b = d.connect(2).await;
    for i in 1..=8 {
        a.send(format!(r#"{{"id":{i},"cmd":10,"dstid":2}}"#)).await;
    }
    let mut acks = 0;
    let mut limited = 0;
    for _ in 0..8 {
        match a.recv().await["cmd"].as_i64() {
            Some(20) => acks += 1,
            Some(21) => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((acks, limited), (5, 3));
    tokio::time::sleep(Duration::from_millis(450)).await;
    a.send(r#"{"id":99,"cmd":10,"dstid":2}"#).await;
    assert_eq!(a.recv().await["cmd"], 20, "tokens refill over time");
}

#[test]
fn a_peer_that_never_answers_is_pinged_then_closed_at_the_idle_timeout() {
    let d = start(&["--ping-interval-ms", "100", "--idle-timeout-ms", "400"]);
    let mut s = d.raw_ws(4);
    let started = std::time::Instant::now();
    // read_close skips the pings; the raw socket never pongs.
    assert_eq!(read_close(&mut s), Some(1001));
    assert!(started.elapsed() >= Duration::from_millis(350));
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let d = start(&["--ping-interval-ms", "100", "--idle-timeout-ms", "400"]);
    let mut a = d.connect(1).await;
    a.expect_silence(Duration::from_millis(1200)).await;
    let _b = d.connect(2).await;
    a.send(r#"{"id":1,"cmd":10,"dstid":2}"#).await;
    assert_eq!(a.recv().await["cmd"], 20);
}
