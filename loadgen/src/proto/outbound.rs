//! The JSON the loadgen sends: messages (cmd 10/11), sync (cmd 30) and
//! heartbeats, written into reused buffers so the send path allocates
//! nothing once the buffers have grown.

use super::content::{self, Dst, Stamp};

/// Appends a message envelope carrying `stamp` to `out`, padded so that the
/// envelope is at least `message_bytes` long. `id` 0 asks for no ack;
/// `userid` is written only for servers that want it (the peers).
pub fn message(
    out: &mut Vec<u8>,
    id: i64,
    userid: Option<i64>,
    stamp: &Stamp,
    message_bytes: usize,
) {
    let start = out.len();
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(b.format(id).as_bytes());
    if let Some(u) = userid {
        out.extend_from_slice(b",\"userid\":");
        out.extend_from_slice(b.format(u).as_bytes());
    }
    let (cmd, dstid) = match stamp.dst {
        Dst::User(u) => (&b"10"[..], u),
        Dst::Group(g) => (&b"11"[..], g),
    };
    out.extend_from_slice(b",\"cmd\":");
    out.extend_from_slice(cmd);
    out.extend_from_slice(b",\"dstid\":");
    out.extend_from_slice(b.format(dstid).as_bytes());
    out.extend_from_slice(b",\"media\":1,\"content\":\"");
    // The two closing bytes `"}` count towards the requested size.
    let so_far = out.len() - start + 2;
    content::write(stamp, message_bytes.saturating_sub(so_far), out);
    out.extend_from_slice(b"\"}");
}

/// Appends a sync request (cmd 30) after the given inbox and group seqs.
pub fn sync(out: &mut Vec<u8>, id: i64, inbox: u64, groups: &[(i64, u64)]) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b"{\"cmd\":30,\"id\":");
    out.extend_from_slice(b.format(id).as_bytes());
    out.extend_from_slice(b",\"inbox\":");
    out.extend_from_slice(b.format(inbox).as_bytes());
    out.extend_from_slice(b",\"groups\":{");
    for (i, (gid, last)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(b.format(*gid).as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(b.format(*last).as_bytes());
    }
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_json_of_the_requested_size() {
        let s = Stamp {
            run: 2,
            sender: 5,
            dst: Dst::User(6),
            seq: 1,
            sent_us: 42,
        };
        let mut out = Vec::new();
        message(&mut out, 7, None, &s, 128);
        assert_eq!(out.len(), 128);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with(r#"{"id":7,"cmd":10,"dstid":6,"media":1,"content":"2.5.u6.1.42:xx"#)
        );
        assert!(text.ends_with("x\"}"));
        out.clear();
        let g = Stamp {
            dst: Dst::Group(3),
            ..s
        };
        message(&mut out, 0, Some(5), &g, 0);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"id":0,"userid":5,"cmd":11,"dstid":3,"media":1,"content":"2.5.g3.1.42:"}"#
        );
    }

    #[test]
    fn sync_lists_groups() {
        let mut out = Vec::new();
        sync(&mut out, 9, 12, &[(3, 4), (8, 0)]);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"cmd":30,"id":9,"inbox":12,"groups":{"3":4,"8":0}}"#
        );
    }
}
