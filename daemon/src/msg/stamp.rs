//! The delivered frame: the sender's own bytes with the server's fields
//! spliced in, never re-serialised, so unknown fields and the client's
//! formatting reach recipients exactly as sent.

use bytes::{BufMut, Bytes};

use super::envelope::Envelope;
use super::json::put_int;
use crate::ws::encode::{finish, payload_buf, OpCode};

/// Longest text spliced in: `"userid":<i64>,` and `,"seq":<u64>,"ts":<i64>`.
const SPLICE_MAX: usize = 10 + 20 + 1 + 7 + 20 + 6 + 20;

/// Builds the frame delivered for a message `env` parsed from `payload`:
/// `"userid":<uid>` after the opening `{` when the client did not send it,
/// and `,"seq":<seq>,"ts":<ts_ms>` before the closing `}`. Whitespace
/// around the object is dropped. Cost: one allocation, one copy of the
/// payload; the WebSocket header goes into the buffer's headroom.
#[must_use]
pub fn stamped_frame(payload: &[u8], env: &Envelope, uid: i64, seq: u64, ts_ms: i64) -> Bytes {
    let body = object_body(payload);
    // A body of only whitespace is `{}`: nothing to separate from.
    let empty = body
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));

    let mut buf = payload_buf(body.len() + 2 + SPLICE_MAX);
    buf.put_u8(b'{');
    if !env.has_userid {
        buf.put_slice(b"\"userid\":");
        put_int(&mut buf, uid);
        if !empty {
            buf.put_u8(b',');
        }
    }
    if !empty {
        buf.put_slice(body);
    }
    if !empty || !env.has_userid {
        buf.put_u8(b',');
    }
    buf.put_slice(b"\"seq\":");
    put_int(&mut buf, seq);
    buf.put_slice(b",\"ts\":");
    put_int(&mut buf, ts_ms);
    buf.put_u8(b'}');
    finish(OpCode::Text, buf)
}

/// The seq a frame of [`stamped_frame`] carries: the last `"seq":` of the
/// object, which the server wrote after everything the client sent (a node
/// that relays a frame learns its seq without parsing the JSON).
pub fn stamped_seq(frame: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"seq\":";
    let at = frame.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let (seq, _) = super::reply::leading_int(&frame[at..])?;
    u64::try_from(seq).ok()
}

/// The bytes between the first `{` and the last `}`. For a payload that
/// [`parse`](super::parse) accepted, only whitespace lies outside them.
fn object_body(payload: &[u8]) -> &[u8] {
    let open = payload.iter().position(|&b| b == b'{');
    let close = payload.iter().rposition(|&b| b == b'}');
    match (open, close) {
        (Some(open), Some(close)) if open < close => &payload[open + 1..close],
        _ => {
            debug_assert!(false, "stamped_frame needs a parsed JSON object");
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::test_util::payload_of;
    use crate::msg::{parse, Cmd};

    const UID: i64 = 42;

    fn stamp(json: &str) -> String {
        let env = parse(json.as_bytes(), UID, &mut Vec::new()).unwrap();
        let frame = stamped_frame(json.as_bytes(), &env, UID, 7, 1_700_000_000_123);
        String::from_utf8(payload_of(&frame).to_vec()).unwrap()
    }

    #[test]
    fn stamped_output_is_json_with_the_server_fields() {
        let json = r#"{"id":3,"cmd":10,"dstid":9,"media":1,"content":"hi \"you\" ✓"}"#;
        let out = stamp(json);
        let mut bytes = out.clone().into_bytes();
        let v: simd_json::OwnedValue = simd_json::to_owned_value(&mut bytes).unwrap();
        use simd_json::prelude::*;
        assert_eq!(v["userid"].as_i64(), Some(UID));
        assert_eq!(v["seq"].as_u64(), Some(7));
        assert_eq!(v["ts"].as_i64(), Some(1_700_000_000_123));
        assert_eq!(v["dstid"].as_i64(), Some(9));
        assert_eq!(v["content"].as_str(), Some("hi \"you\" ✓"));
        // And the result is itself a message the server would accept.
        let again = parse(out.as_bytes(), UID, &mut Vec::new());
        assert_eq!(again.unwrap_err().msg, "\"seq\" must be set by the server");
    }

    #[test]
    fn unknown_fields_survive_byte_identical() {
        let extra = r#""x-ext" : { "a" : [1, 2.50, "\u00e9"], "b":null } ,"tag":"\ud83d\ude00""#;
        let json = format!(r#"{{"cmd":11,"dstid":5,{extra}}}"#);
        let out = stamp(&json);
        assert_eq!(
            out,
            format!(r#"{{"userid":42,"cmd":11,"dstid":5,{extra},"seq":7,"ts":1700000000123}}"#)
        );
    }

    #[test]
    fn a_sent_userid_is_not_inserted_again() {
        let out = stamp(r#"{"userid":42,"cmd":10,"dstid":1}"#);
        assert_eq!(
            out,
            r#"{"userid":42,"cmd":10,"dstid":1,"seq":7,"ts":1700000000123}"#
        );
    }

    #[test]
    fn outer_whitespace_is_dropped_and_inner_kept() {
        let out = stamp(" \r\n\t{ \"cmd\":10 , \"dstid\":1 \n}\n ");
        assert_eq!(
            out,
            "{\"userid\":42, \"cmd\":10 , \"dstid\":1 \n,\"seq\":7,\"ts\":1700000000123}"
        );
    }

    #[test]
    fn an_empty_body_gets_no_stray_comma() {
        let env = Envelope {
            id: 0,
            cmd: Cmd::Heartbeat,
            dstid: 0,
            has_userid: false,
            sync: None,
        };
        let frame = stamped_frame(b" { } ", &env, 5, 1, 2);
        assert_eq!(payload_of(&frame), br#"{"userid":5,"seq":1,"ts":2}"#);
        let env = Envelope {
            has_userid: true,
            ..env
        };
        let frame = stamped_frame(b"{}", &env, 5, 1, 2);
        assert_eq!(payload_of(&frame), br#"{"seq":1,"ts":2}"#);
    }

    #[test]
    fn large_messages_get_the_long_header() {
        let content = "a".repeat(65_536);
        let json = format!(r#"{{"cmd":10,"dstid":1,"content":"{content}"}}"#);
        let out = stamp(&json);
        assert!(out.starts_with(r#"{"userid":42,"cmd":10"#));
        assert!(out.ends_with(r#"","seq":7,"ts":1700000000123}"#));
    }

    #[test]
    fn the_stamped_seq_reads_back_whatever_the_client_wrote() {
        let json = r#"{"id":1,"cmd":10,"dstid":2,"content":"\"seq\":99","x":{"seq":98}}"#;
        let env = parse(json.as_bytes(), UID, &mut Vec::new()).unwrap();
        let frame = stamped_frame(json.as_bytes(), &env, UID, 123_456, -5);
        assert_eq!(stamped_seq(&frame), Some(123_456));
        assert_eq!(stamped_seq(b"no seq here"), None);
    }
}
