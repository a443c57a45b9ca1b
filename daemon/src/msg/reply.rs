//! Frames the server writes on its own: ack (cmd 20), error (cmd 21) and
//! sync done (cmd 31). Each is written once into a frame buffer.

use bytes::{BufMut, Bytes};

use super::json::{put_int, put_str};
use crate::ws::encode::{finish, payload_buf, OpCode};

/// Room for the fixed text and three 20-digit numbers of a reply.
const FIXED: usize = 96;

/// `{"cmd":20,"id":<id>,"seq":<seq>,"ts":<ts_ms>}`: the message `id` was
/// accepted with sequence `seq`. One allocation.
#[must_use]
pub fn ack_frame(id: i64, seq: u64, ts_ms: i64) -> Bytes {
    let mut buf = payload_buf(FIXED);
    buf.put_slice(b"{\"cmd\":20,\"id\":");
    put_int(&mut buf, id);
    buf.put_slice(b",\"seq\":");
    put_int(&mut buf, seq);
    buf.put_slice(b",\"ts\":");
    put_int(&mut buf, ts_ms);
    buf.put_u8(b'}');
    finish(OpCode::Text, buf)
}

/// `{"cmd":21,"id":<id>,"code":<code>,"msg":"<msg>"}`, `msg` JSON-escaped:
/// the message `id` (0: unknown) was refused. One allocation.
#[must_use]
pub fn error_frame(id: i64, code: u16, msg: &str) -> Bytes {
    let mut buf = payload_buf(FIXED + msg.len());
    buf.put_slice(b"{\"cmd\":21,\"id\":");
    put_int(&mut buf, id);
    buf.put_slice(b",\"code\":");
    put_int(&mut buf, code);
    buf.put_slice(b",\"msg\":");
    put_str(&mut buf, msg);
    buf.put_u8(b'}');
    finish(OpCode::Text, buf)
}

/// An ack or error frame of [`ack_frame`] or [`error_frame`], read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyOf {
    /// The message id it answers.
    pub id: i64,
    /// `Some((seq, ts))` for an ack, `None` for an error.
    pub acked: Option<(u64, i64)>,
}

/// Reads back an ack or error frame this server wrote (a node that
/// forwarded a message learns its fate from the frame the owner sent);
/// `None` for anything else.
pub fn read_reply(frame: &[u8]) -> Option<ReplyOf> {
    let head = match frame.get(1)? & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    let text = frame.get(head..)?;
    let (acked, rest) = if let Some(r) = text.strip_prefix(b"{\"cmd\":20,\"id\":") {
        (true, r)
    } else {
        (false, text.strip_prefix(b"{\"cmd\":21,\"id\":")?)
    };
    let (id, rest) = leading_int(rest)?;
    if !acked {
        return Some(ReplyOf { id, acked: None });
    }
    let (seq, rest) = leading_int(rest.strip_prefix(b",\"seq\":")?)?;
    let (ts, _) = leading_int(rest.strip_prefix(b",\"ts\":")?)?;
    Some(ReplyOf {
        id,
        acked: Some((u64::try_from(seq).ok()?, ts)),
    })
}

/// The integer at the start of `s` and what follows it.
pub(super) fn leading_int(s: &[u8]) -> Option<(i64, &[u8])> {
    let digits = usize::from(s.first() == Some(&b'-'))
        + s.iter()
            .skip(usize::from(s.first() == Some(&b'-')))
            .take_while(|b| b.is_ascii_digit())
            .count();
    let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    Some((n, &s[digits..]))
}

/// `{"cmd":31,"id":<id>,"inbox":<inbox>,"groups":{"<gid>":<seq>,...}}`,
/// plus `,"truncated":true` when retention dropped asked-for messages: the
/// end of a sync replay or of the offline push. One allocation.
#[must_use]
pub fn sync_done_frame(id: i64, inbox: u64, groups: &[(u64, u64)], truncated: bool) -> Bytes {
    // Per group: two 20-digit numbers, two quotes, a colon and a comma.
    let mut buf = payload_buf(FIXED + groups.len() * 44);
    buf.put_slice(b"{\"cmd\":31,\"id\":");
    put_int(&mut buf, id);
    buf.put_slice(b",\"inbox\":");
    put_int(&mut buf, inbox);
    buf.put_slice(b",\"groups\":{");
    for (i, &(gid, seq)) in groups.iter().enumerate() {
        if i > 0 {
            buf.put_u8(b',');
        }
        buf.put_u8(b'"');
        put_int(&mut buf, gid);
        buf.put_slice(b"\":");
        put_int(&mut buf, seq);
    }
    buf.put_u8(b'}');
    if truncated {
        buf.put_slice(b",\"truncated\":true");
    }
    buf.put_u8(b'}');
    finish(OpCode::Text, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::test_util::payload_of;

    fn text(frame: &Bytes) -> &str {
        std::str::from_utf8(payload_of(frame)).unwrap()
    }

    #[test]
    fn ack_carries_id_seq_and_time() {
        let f = ack_frame(12, 3, 1_700_000_000_000);
        assert_eq!(text(&f), r#"{"cmd":20,"id":12,"seq":3,"ts":1700000000000}"#);
    }

    #[test]
    fn error_escapes_its_reason() {
        let f = error_frame(0, 400, "bad \"x\"\n");
        assert_eq!(
            text(&f),
            r#"{"cmd":21,"id":0,"code":400,"msg":"bad \"x\"\n"}"#
        );
    }

    #[test]
    fn sync_done_lists_groups_and_truncation() {
        let f = sync_done_frame(4, 10, &[], false);
        assert_eq!(text(&f), r#"{"cmd":31,"id":4,"inbox":10,"groups":{}}"#);
        let f = sync_done_frame(0, 0, &[(7, 1), (9, 22)], true);
        assert_eq!(
            text(&f),
            r#"{"cmd":31,"id":0,"inbox":0,"groups":{"7":1,"9":22},"truncated":true}"#
        );
    }

    #[test]
    fn big_sync_done_is_one_valid_frame() {
        let groups: Vec<(u64, u64)> = (1..=1024).map(|g| (u64::MAX - g, u64::MAX)).collect();
        let f = sync_done_frame(i64::MAX, u64::MAX, &groups, true);
        let mut payload = payload_of(&f).to_vec();
        let v = simd_json::to_owned_value(&mut payload).unwrap();
        use simd_json::prelude::*;
        assert_eq!(v["groups"].as_object().unwrap().len(), 1024);
        assert_eq!(v["truncated"].as_bool(), Some(true));
    }

    #[test]
    fn acks_and_errors_read_back_as_written() {
        let ack = ack_frame(-42, 7, 1_700_000_000_123);
        assert_eq!(
            read_reply(&ack),
            Some(ReplyOf {
                id: -42,
                acked: Some((7, 1_700_000_000_123))
            })
        );
        let err = error_frame(9, 503, &"x".repeat(200));
        assert_eq!(read_reply(&err), Some(ReplyOf { id: 9, acked: None }));
        let done = sync_done_frame(1, 2, &[], false);
        assert_eq!(read_reply(&done), None);
        assert_eq!(read_reply(b""), None);
    }
}
