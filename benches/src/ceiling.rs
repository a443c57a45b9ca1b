//! The ceiling forwarder's protocol side, sans-IO: where an upgrade request
//! ends and whose it is, where each frame ends (from its length header
//! only: nothing is unmasked, validated or decoded), and who receives it.
//! The forwarder (`src/bin/ceiling.rs`) is the cheapest server that still
//! delivers the loadgen's frames, so it bounds what any WebSocket server on
//! this machine can do.

/// Who gets a frame a user sends; the loadgen's peer mode addresses the
/// same users (fixed pairs 2k and 2k+1, groups of `uid / size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// The user's fixed partner, `uid ^ 1`.
    Pairs,
    /// Every other member of the sender's group `uid / size`.
    Groups(i64),
}

impl Fanout {
    /// Parses `pairs` or `groups:SIZE`.
    pub fn parse(s: &str) -> Result<Fanout, String> {
        match s.split_once(':') {
            None if s == "pairs" => Ok(Fanout::Pairs),
            Some(("groups", n)) => match n.parse::<i64>() {
                Ok(size) if size > 0 => Ok(Fanout::Groups(size)),
                _ => Err(format!("bad group size {n:?}: want a positive integer")),
            },
            _ => Err(format!("bad fanout {s:?}: want pairs or groups:SIZE")),
        }
    }

    /// The unit kept on one core: a pair, or a group.
    pub fn unit(self, uid: i64) -> i64 {
        match self {
            Fanout::Pairs => uid >> 1,
            Fanout::Groups(size) => uid.div_euclid(size),
        }
    }

    /// The core that owns `uid` (and every user it exchanges frames with).
    pub fn owner(self, uid: i64, cores: usize) -> usize {
        self.unit(uid).rem_euclid(cores.max(1) as i64) as usize
    }
}

/// The length of a request head ending in an empty line, once it is whole.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// What the forwarder needs from an upgrade request: the user id from the
/// `id` query parameter and the `Sec-WebSocket-Key` (answered, not checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The user.
    pub uid: i64,
    /// The client's key, echoed through the accept hash.
    pub key: String,
}

/// Reads an upgrade request head.
///
/// # Errors
/// A message naming what is missing (no `id=` in the query, no key).
pub fn parse_upgrade(head: &[u8]) -> Result<Upgrade, String> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no request line")?;
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let uid = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("id="))
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| format!("no numeric id= in {target:?}"))?;
    let key = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim().to_owned())
        .ok_or("no Sec-WebSocket-Key header")?;
    Ok(Upgrade { uid, key })
}

/// The opcode of a close frame: the forwarder ends the connection instead
/// of passing it on.
pub const OP_CLOSE: u8 = 0x8;

/// The first frame at the front of `buf`, from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAt {
    /// Opcode (low nibble of the first byte).
    pub opcode: u8,
    /// Header, mask key and payload: the bytes to forward.
    pub len: usize,
}

/// The frame starting at `buf[0]`, once its header is whole (its payload
/// may still be arriving); `None` while the header is incomplete.
pub fn frame_at(buf: &[u8]) -> Option<FrameAt> {
    let (b0, b1) = (*buf.first()?, *buf.get(1)?);
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    let (ext, payload) = match b1 & 0x7f {
        126 => (
            2,
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        ),
        127 => (8, u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    let len = usize::try_from(payload).ok()?.checked_add(2 + ext + mask)?;
    Some(FrameAt {
        opcode: b0 & 0x0f,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use imedge::ws::encode::{self, OpCode};

    #[test]
    fn frames_end_where_their_header_says() {
        for size in [0usize, 125, 126, 65535, 65536] {
            let payload = vec![b'a'; size];
            let server = encode::frame(OpCode::Text, &payload);
            let at = frame_at(&server).unwrap();
            assert_eq!((at.opcode, at.len), (1, server.len()));
            let mut client = Vec::new();
            encode::client_frame(OpCode::Text, true, &payload, [1, 2, 3, 4], &mut client);
            assert_eq!(frame_at(&client).unwrap().len, client.len());
            // A header cut short is not a frame yet.
            assert_eq!(frame_at(&client[..1]), None);
            if size >= 126 {
                assert_eq!(frame_at(&client[..3]), None);
            }
        }
        let close = encode::close(1000, "");
        assert_eq!(frame_at(&close).unwrap().opcode, OP_CLOSE);
    }

    #[test]
    fn upgrade_requests_give_uid_and_key() {
        let head =
            b"GET /chat?id=101&token=x HTTP/1.1\r\nHost: h\r\nsec-websocket-key: abc==\r\n\r\n";
        assert_eq!(head_len(head), Some(head.len()));
        assert_eq!(head_len(&head[..head.len() - 1]), None);
        assert_eq!(
            parse_upgrade(head).unwrap(),
            Upgrade {
                uid: 101,
                key: "abc==".into()
            }
        );
        let no_id = b"GET /chat?token=x HTTP/1.1\r\nSec-WebSocket-Key: k\r\n\r\n";
        assert!(parse_upgrade(no_id).unwrap_err().contains("id="));
        let no_key = b"GET /chat?id=3 HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(parse_upgrade(no_key)
            .unwrap_err()
            .contains("Sec-WebSocket-Key"));
    }

    #[test]
    fn units_stay_on_one_core() {
        assert_eq!(Fanout::parse("pairs"), Ok(Fanout::Pairs));
        assert_eq!(Fanout::parse("groups:100"), Ok(Fanout::Groups(100)));
        assert!(Fanout::parse("groups:0").is_err());
        assert!(Fanout::parse("rooms").is_err());
        for uid in 100..400 {
            assert_eq!(Fanout::Pairs.owner(uid, 2), Fanout::Pairs.owner(uid ^ 1, 2));
            let g = Fanout::Groups(100);
            assert_eq!(g.owner(uid, 3), g.owner(uid / 100 * 100, 3));
        }
    }
}
