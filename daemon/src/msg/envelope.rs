//! A client message: one parse, every check of PROTOCOL.md sections 3-4, and
//! the few values routing needs, copied out so nothing borrows the payload.

use bytes::Bytes;
use simd_json::Node;

use super::fields::{Field, Kind};
use super::reply::error_frame;
use super::sync::{self, SyncRequest};
use super::tape::{as_i64, span, with_tape};

/// A command a client may send. Acks, errors and sync-done (20, 21, 31) only
/// go from server to client, so from a client they are unknown commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cmd {
    /// 0: keeps the connection alive; no answer.
    Heartbeat = 0,
    /// 10: a message to every connection of user `dstid`.
    Single = 10,
    /// 11: a message to every member of group `dstid`.
    Room = 11,
    /// 30: replay what the client missed.
    Sync = 30,
}

impl Cmd {
    /// The command with wire number `code`, if a client may send it.
    #[must_use]
    pub fn from_code(code: i64) -> Option<Cmd> {
        match code {
            0 => Some(Cmd::Heartbeat),
            10 => Some(Cmd::Single),
            11 => Some(Cmd::Room),
            30 => Some(Cmd::Sync),
            _ => None,
        }
    }

    /// The wire number.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What the router needs from a valid client message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The client's message id, echoed in the ack or error; 0 when absent.
    pub id: i64,
    /// The command.
    pub cmd: Cmd,
    /// Recipient uid (Single) or group id (Room), always > 0 for those; 0
    /// for other commands.
    pub dstid: i64,
    /// Whether the client sent `userid` (it then equalled the connection's
    /// uid); when not, [`stamped_frame`](super::stamped_frame) inserts it.
    pub has_userid: bool,
    /// The sync request, for [`Cmd::Sync`] only.
    pub sync: Option<SyncRequest>,
}

/// A refused client message; becomes a cmd 21 error frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("message {id} refused with {code}: {msg}")]
pub struct Reject {
    /// The client's id when it could be read, else 0.
    pub id: i64,
    /// The error code of PROTOCOL.md section 4 (400, 403, 413).
    pub code: u16,
    /// The reason, sent to the client.
    pub msg: &'static str,
}

impl Reject {
    fn bad(id: i64, msg: &'static str) -> Reject {
        Reject { id, code: 400, msg }
    }

    /// The cmd 21 frame that tells the client (allocates the frame).
    #[must_use]
    pub fn frame(&self) -> Bytes {
        error_frame(self.id, self.code, self.msg)
    }
}

/// Parses and validates a client text message from the connection of `uid`.
///
/// `scratch` is reused between calls: simd-json parses in place, so the
/// payload is copied there and stays intact for splicing. Cost: one copy of
/// the payload and one simd-json pass; no allocation once the per-thread
/// parser buffers and `scratch` have grown to the message size (a sync
/// request also allocates its `groups`).
///
/// # Errors
/// A [`Reject`] (400, 403 or 413) for the first rule the message breaks.
pub fn parse(payload: &[u8], uid: i64, scratch: &mut Vec<u8>) -> Result<Envelope, Reject> {
    scratch.clear();
    scratch.extend_from_slice(payload);
    with_tape(scratch, |nodes| match nodes {
        Some(nodes) => validate(nodes, uid),
        None => Err(Reject::bad(0, "not valid JSON")),
    })
}

/// Tape positions of the known fields' values. Position 0 is the root
/// object, never a value, so it marks an absent field.
struct Found {
    at: [usize; Field::COUNT],
    duplicate: Option<Field>,
}

impl Found {
    fn get(&self, field: Field) -> Option<usize> {
        match self.at[field as usize] {
            0 => None,
            at => Some(at),
        }
    }
}

/// Walks the top-level keys once. Keys on the tape are already unescaped,
/// so `"user\u0069d"` counts as a second `userid`, as it would for a
/// recipient's parser.
fn find(nodes: &[Node<'_>]) -> Result<Found, Reject> {
    let Some(&Node::Object { len, .. }) = nodes.first() else {
        return Err(Reject::bad(0, "not a JSON object"));
    };
    let mut found = Found {
        at: [0; Field::COUNT],
        duplicate: None,
    };
    let mut i = 1;
    for _ in 0..len {
        let (Some(Node::String(key)), Some(value)) = (nodes.get(i), nodes.get(i + 1)) else {
            return Err(Reject::bad(0, "not valid JSON"));
        };
        if let Some(field) = Field::from_key(key) {
            let slot = &mut found.at[field as usize];
            if *slot == 0 {
                *slot = i + 1;
            } else {
                found.duplicate.get_or_insert(field);
            }
        }
        i += 1 + span(value);
    }
    Ok(found)
}

fn validate(nodes: &[Node<'_>], uid: i64) -> Result<Envelope, Reject> {
    let found = find(nodes)?;
    let int = |field| found.get(field).and_then(|at| as_i64(&nodes[at]));

    // The id first, so every later reject can echo it. Two ids are
    // ambiguous, so that reject echoes 0.
    let id = match found.get(Field::Id) {
        None => 0,
        Some(at) => as_i64(&nodes[at]).ok_or(Reject::bad(0, Field::Id.wrong_type()))?,
    };
    if found.duplicate == Some(Field::Id) {
        return Err(Reject::bad(0, Field::Id.duplicate()));
    }
    if id < 0 {
        return Err(Reject::bad(id, "\"id\" must not be negative"));
    }
    if let Some(field) = found.duplicate {
        return Err(Reject::bad(id, field.duplicate()));
    }

    let mut too_long = None;
    for &field in Field::ALL {
        let Some(at) = found.get(field) else { continue };
        match (field.kind(), &nodes[at]) {
            (Kind::Int, node) if as_i64(node).is_some() => {}
            (Kind::Str(max), Node::String(s)) => {
                if s.len() > max && too_long.is_none() {
                    too_long = Some(field);
                }
            }
            (Kind::Sync, _) => {}
            (Kind::Int | Kind::Str(_) | Kind::ServerOnly, _) => {
                return Err(Reject::bad(id, field.wrong_type()));
            }
        }
    }

    let cmd = match int(Field::Cmd) {
        None => return Err(Reject::bad(id, "missing \"cmd\"")),
        Some(code) => Cmd::from_code(code).ok_or(Reject::bad(id, "unknown cmd"))?,
    };
    let dstid = match cmd {
        Cmd::Single | Cmd::Room => match int(Field::Dstid) {
            Some(dstid) if dstid > 0 => dstid,
            _ => return Err(Reject::bad(id, "cmd 10 and 11 need a positive \"dstid\"")),
        },
        Cmd::Heartbeat | Cmd::Sync => 0,
    };
    let has_userid = match int(Field::Userid) {
        Some(claimed) if claimed != uid => {
            return Err(Reject {
                id,
                code: 403,
                msg: "userid does not match the connection",
            });
        }
        claimed => claimed.is_some(),
    };
    if let Some(field) = too_long {
        return Err(Reject {
            id,
            code: 413,
            msg: field.too_long(),
        });
    }
    let sync = match cmd {
        Cmd::Sync => Some(
            sync::read(nodes, found.get(Field::Inbox), found.get(Field::Groups))
                .map_err(|(code, msg)| Reject { id, code, msg })?,
        ),
        _ => None,
    };
    Ok(Envelope {
        id,
        cmd,
        dstid,
        has_userid,
        sync,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: i64 = 42;

    fn ok(json: &str) -> Envelope {
        parse(json.as_bytes(), UID, &mut Vec::new()).unwrap_or_else(|r| panic!("{json}: {r}"))
    }

    fn err(json: &str) -> Reject {
        match parse(json.as_bytes(), UID, &mut Vec::new()) {
            Ok(env) => panic!("{json} accepted as {env:?}"),
            Err(reject) => reject,
        }
    }

    fn code(json: &str) -> (i64, u16) {
        let r = err(json);
        (r.id, r.code)
    }

    #[test]
    fn a_single_message_yields_what_routing_needs() {
        let env = ok(r#"{"id":7,"userid":42,"cmd":10,"dstid":9,"media":1,"content":"hi"}"#);
        assert_eq!(
            env,
            Envelope {
                id: 7,
                cmd: Cmd::Single,
                dstid: 9,
                has_userid: true,
                sync: None
            }
        );
        let env = ok(r#"{"cmd":11,"dstid":3}"#);
        assert_eq!(
            (env.id, env.cmd, env.dstid, env.has_userid),
            (0, Cmd::Room, 3, false)
        );
        assert_eq!(ok(r#"{"cmd":0}"#).cmd, Cmd::Heartbeat);
    }

    #[test]
    fn not_json_or_not_an_object_is_400_without_id() {
        for bad in [
            "",
            "   ",
            "{",
            "nope",
            r#"{"id":1,}"#,
            r#"{"cmd":0} x"#,
            r#"{"cmd":0}{"cmd":0}"#,
        ] {
            assert_eq!(code(bad), (0, 400), "{bad:?}");
        }
        for bad in ["[]", r#"[{"cmd":0}]"#, "1", r#""cmd""#, "null", "true"] {
            let r = err(bad);
            assert_eq!(
                (r.id, r.code, r.msg),
                (0, 400, "not a JSON object"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn integer_fields_must_be_integers_in_range() {
        for field in ["userid", "dstid", "media", "amount"] {
            for value in [
                "\"1\"",
                "1.0",
                "1e2",
                "true",
                "null",
                "[1]",
                "{}",
                "9223372036854775808",
            ] {
                let json = format!(r#"{{"id":5,"cmd":10,"dstid":1,"{field}":{value}}}"#);
                let json = json.replacen(r#""dstid":1,"dstid""#, r#""dstid""#, 1);
                let r = err(&json);
                assert_eq!((r.id, r.code), (5, 400), "{json}");
                assert!(r.msg.contains(field), "{json}: {}", r.msg);
            }
        }
        assert_eq!(
            ok(r#"{"cmd":10,"dstid":9223372036854775807,"amount":-9223372036854775808}"#).dstid,
            i64::MAX
        );
    }

    #[test]
    fn a_wrongly_typed_id_cannot_be_echoed() {
        for value in ["\"5\"", "5.5", "null", "18446744073709551615"] {
            let r = err(&format!(r#"{{"id":{value},"cmd":0}}"#));
            assert_eq!((r.id, r.code, r.msg), (0, 400, "\"id\" must be an integer"));
        }
    }

    #[test]
    fn string_fields_must_be_strings() {
        for field in ["content", "pic", "url", "memo"] {
            for value in ["1", "null", "[\"a\"]", "{\"a\":1}", "false"] {
                let r = err(&format!(
                    r#"{{"id":2,"cmd":10,"dstid":1,"{field}":{value}}}"#
                ));
                assert_eq!((r.id, r.code), (2, 400));
                assert_eq!(r.msg, format!("\"{field}\" must be a string"));
            }
        }
    }

    #[test]
    fn cmd_must_be_present_and_client_to_server() {
        assert_eq!(err(r#"{"id":1,"dstid":1}"#).msg, "missing \"cmd\"");
        for cmd in [1, 12, 20, 21, 31, -10] {
            let r = err(&format!(r#"{{"id":1,"cmd":{cmd},"dstid":1}}"#));
            assert_eq!((r.id, r.code, r.msg), (1, 400, "unknown cmd"), "cmd {cmd}");
        }
        assert_eq!(code(r#"{"id":1,"cmd":"10","dstid":1}"#), (1, 400));
        assert_eq!(code(r#"{"id":1,"cmd":10.0,"dstid":1}"#), (1, 400));
    }

    #[test]
    fn single_and_room_need_a_positive_dstid() {
        for cmd in [10, 11] {
            for dst in ["", r#","dstid":0"#, r#","dstid":-4"#] {
                let r = err(&format!(r#"{{"id":3,"cmd":{cmd}{dst}}}"#));
                assert_eq!((r.id, r.code), (3, 400), "cmd {cmd} {dst}");
                assert!(r.msg.contains("dstid"));
            }
        }
        // Other commands ignore a dstid (but still type-check it).
        assert_eq!(ok(r#"{"cmd":0,"dstid":-4}"#).dstid, 0);
        assert_eq!(ok(r#"{"cmd":30,"dstid":8}"#).dstid, 0);
    }

    #[test]
    fn a_negative_id_is_refused_and_echoed() {
        let r = err(r#"{"id":-1,"cmd":10,"dstid":1}"#);
        assert_eq!(
            (r.id, r.code, r.msg),
            (-1, 400, "\"id\" must not be negative")
        );
        assert_eq!(ok(r#"{"id":0,"cmd":0}"#).id, 0);
    }

    #[test]
    fn duplicate_known_keys_are_refused() {
        let r = err(r#"{"id":4,"userid":42,"cmd":10,"dstid":1,"userid":43}"#);
        assert_eq!((r.id, r.code, r.msg), (4, 400, "duplicate \"userid\""));
        // An escaped spelling is the same key to every JSON parser.
        let r = err(r#"{"id":4,"userid":42,"cmd":10,"dstid":1,"user\u0069d":43}"#);
        assert_eq!((r.id, r.code, r.msg), (4, 400, "duplicate \"userid\""));
        for field in ["cmd", "dstid", "content", "groups", "inbox"] {
            let json = format!(r#"{{"id":4,"cmd":10,"dstid":1,"content":"a","{field}":1}}"#);
            let json = json.replace(r#""groups":1"#, r#""groups":{},"groups":{}"#);
            let json = json.replace(r#""inbox":1"#, r#""inbox":1,"inbox":2"#);
            let r = err(&json);
            assert_eq!(
                (r.id, r.code, r.msg),
                (4, 400, Field::from_key(field).unwrap().duplicate()),
                "{json}"
            );
        }
        // Two ids: neither is echoed.
        let r = err(r#"{"id":4,"cmd":0,"id":5}"#);
        assert_eq!((r.id, r.code, r.msg), (0, 400, "duplicate \"id\""));
    }

    #[test]
    fn duplicate_unknown_keys_and_nested_known_names_pass() {
        let env =
            ok(r#"{"cmd":10,"dstid":1,"x":1,"x":2,"ext":{"userid":1,"userid":2,"cmd":"no"}}"#);
        assert!(!env.has_userid);
    }

    #[test]
    fn a_spoofed_userid_is_403() {
        let r = err(r#"{"id":6,"userid":43,"cmd":10,"dstid":1}"#);
        assert_eq!(
            (r.id, r.code, r.msg),
            (6, 403, "userid does not match the connection")
        );
        assert_eq!(code(r#"{"id":6,"userid":-42,"cmd":0}"#), (6, 403));
        assert!(ok(r#"{"id":6,"userid":42,"cmd":0}"#).has_userid);
    }

    #[test]
    fn seq_and_ts_belong_to_the_server() {
        for field in ["seq", "ts"] {
            let r = err(&format!(r#"{{"id":8,"cmd":10,"dstid":1,"{field}":1}}"#));
            assert_eq!((r.id, r.code), (8, 400));
            assert_eq!(r.msg, format!("\"{field}\" must be set by the server"));
        }
    }

    #[test]
    fn string_limits_count_decoded_bytes() {
        for (field, max) in [
            ("pic", 4096),
            ("url", 4096),
            ("memo", 4096),
            ("content", 65536),
        ] {
            let at_limit = format!(
                r#"{{"id":9,"cmd":10,"dstid":1,"{field}":"{}"}}"#,
                "a".repeat(max)
            );
            ok(&at_limit);
            let over = format!(
                r#"{{"id":9,"cmd":10,"dstid":1,"{field}":"{}"}}"#,
                "a".repeat(max + 1)
            );
            let r = err(&over);
            assert_eq!((r.id, r.code), (9, 413), "{field}");
            assert_eq!(r.msg, format!("\"{field}\" is over its size limit"));
        }
        // 4096 characters written as 6-byte escapes are still 4096 bytes.
        ok(&format!(
            r#"{{"cmd":10,"dstid":1,"pic":"{}"}}"#,
            "\\u0061".repeat(4096)
        ));
        // Multi-byte characters count in bytes: 1366 x 3 bytes > 4096.
        assert_eq!(
            code(&format!(
                r#"{{"cmd":10,"dstid":1,"memo":"{}"}}"#,
                "✓".repeat(1366)
            )),
            (0, 413)
        );
    }

    #[test]
    fn type_errors_come_before_limits() {
        let json = format!(
            r#"{{"id":1,"cmd":10,"dstid":1,"pic":"{}","media":"x"}}"#,
            "a".repeat(5000)
        );
        assert_eq!(code(&json), (1, 400));
    }

    #[test]
    fn unknown_fields_are_accepted() {
        ok(r#"{"cmd":10,"dstid":1,"extra":{"deep":[1,2,{"x":null}]},"flag":true,"n":1.5}"#);
    }

    #[test]
    fn a_sync_request_reads_inbox_and_groups() {
        let env = ok(r#"{"id":11,"cmd":30,"inbox":17,"groups":{"5":3,"18446744073709551615":0}}"#);
        assert_eq!(env.id, 11);
        let sync = env.sync.unwrap();
        assert_eq!(sync.inbox, 17);
        assert_eq!(sync.groups, vec![(5, 3), (u64::MAX, 0)]);
        assert_eq!(ok(r#"{"cmd":30}"#).sync, Some(SyncRequest::default()));
        // Other commands carry no sync request, whatever their fields say.
        assert_eq!(
            ok(r#"{"cmd":10,"dstid":1,"inbox":"x","groups":[]}"#).sync,
            None
        );
    }

    #[test]
    fn sync_fields_are_checked() {
        for bad in [
            r#""inbox":-1"#,
            r#""inbox":"1""#,
            r#""inbox":1.5"#,
            r#""groups":[]"#,
            r#""groups":{"0":1}"#,
            r#""groups":{"01":1}"#,
            r#""groups":{"g1":1}"#,
            r#""groups":{"1":-1}"#,
            r#""groups":{"1":"2"}"#,
            r#""groups":{"1":{}}"#,
        ] {
            let r = err(&format!(r#"{{"id":12,"cmd":30,{bad}}}"#));
            assert_eq!((r.id, r.code), (12, 400), "{bad}");
        }
    }

    #[test]
    fn sync_takes_at_most_1024_groups() {
        let groups = |n: u64| {
            (1..=n)
                .map(|g| format!(r#""{g}":0"#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let env = ok(&format!(r#"{{"cmd":30,"groups":{{{}}}}}"#, groups(1024)));
        assert_eq!(env.sync.unwrap().groups.len(), 1024);
        let r = err(&format!(
            r#"{{"id":13,"cmd":30,"groups":{{{}}}}}"#,
            groups(1025)
        ));
        assert_eq!(
            (r.id, r.code, r.msg),
            (13, 413, "\"groups\" is over its size limit")
        );
    }

    #[test]
    fn the_payload_stays_intact_and_scratch_is_reused() {
        let json = br#"  {"id":1,"cmd":10,"dstid":2,"content":"a\"b\u00e9"}  "#;
        let copy = json.to_vec();
        let mut scratch = Vec::new();
        ok(std::str::from_utf8(json).unwrap());
        for _ in 0..3 {
            assert_eq!(parse(json, UID, &mut scratch).unwrap().dstid, 2);
        }
        assert_eq!(&json[..], &copy[..]);
        assert!(scratch.capacity() >= json.len());
    }

    #[test]
    fn a_reject_becomes_an_error_frame() {
        let r = err(r#"{"id":6,"userid":1,"cmd":10,"dstid":1}"#);
        let frame = r.frame();
        let text = std::str::from_utf8(&frame[2..]).unwrap();
        assert_eq!(
            text,
            r#"{"cmd":21,"id":6,"code":403,"msg":"userid does not match the connection"}"#
        );
    }
}
