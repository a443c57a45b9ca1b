//! What a server text frame means to the loadgen. imedge sends deliveries
//! (cmd 10/11 with `seq`), acks (20), errors (21) and sync ends (31); the
//! peers forward the sender's bytes unchanged (no `seq`).

use super::content::{self, Stamp};
use super::scan::{int_after, int_after_last, int_at, str_after};

/// One classified server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A message for this user; `seq` is the server's inbox or group
    /// sequence (absent for the peers).
    Deliver {
        /// The loadgen stamp from `content`.
        stamp: Stamp,
        /// The server's sequence, if any.
        seq: Option<u64>,
    },
    /// A cmd 10/11 frame whose content is not a loadgen stamp.
    Foreign,
    /// cmd 20: message `id` was accepted with sequence `seq`.
    Ack {
        /// The client id echoed.
        id: i64,
        /// The inbox or group sequence it got.
        seq: u64,
    },
    /// cmd 21: message `id` (0 when unknown) was refused with `code`.
    Error {
        /// The client id echoed.
        id: i64,
        /// The error code (400, 403, 404, 413, 429, 503).
        code: u16,
    },
    /// cmd 31: end of a sync (`id` > 0) or of the offline push (`id` 0).
    SyncDone {
        /// The sync request's id.
        id: i64,
        /// Latest inbox sequence.
        inbox: u64,
        /// Latest sequence per group listed.
        groups: Vec<(i64, u64)>,
    },
    /// Anything else (unknown cmd, not JSON).
    Other,
}

/// Classifies one complete text message from the server.
pub fn classify(frame: &[u8]) -> Inbound {
    let Some(cmd) = int_after(frame, br#""cmd":"#) else {
        return Inbound::Other;
    };
    let id = || int_after(frame, br#""id":"#).unwrap_or(0);
    match cmd {
        10 | 11 => {
            let stamp = str_after(frame, br#""content":""#).and_then(content::parse);
            match stamp {
                Some(stamp) => Inbound::Deliver {
                    stamp,
                    seq: int_after_last(frame, br#""seq":"#).and_then(|s| u64::try_from(s).ok()),
                },
                None => Inbound::Foreign,
            }
        }
        20 => Inbound::Ack {
            id: id(),
            seq: nonneg(int_after(frame, br#""seq":"#)),
        },
        21 => Inbound::Error {
            id: id(),
            code: int_after(frame, br#""code":"#)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(0),
        },
        31 => Inbound::SyncDone {
            id: id(),
            inbox: nonneg(int_after(frame, br#""inbox":"#)),
            groups: groups(frame),
        },
        _ => Inbound::Other,
    }
}

fn nonneg(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// The `"groups":{"<gid>":<seq>,...}` object of a cmd 31.
fn groups(frame: &[u8]) -> Vec<(i64, u64)> {
    let Some(at) = memchr::memmem::find(frame, br#""groups":{"#) else {
        return Vec::new();
    };
    let body = &frame[at + 10..];
    let end = memchr::memchr(b'}', body).unwrap_or(body.len());
    let mut out = Vec::new();
    for entry in body[..end].split(|&b| b == b',') {
        let mut kv = entry.splitn(2, |&b| b == b':');
        let (Some(k), Some(v)) = (kv.next(), kv.next()) else {
            continue;
        };
        let k = k.trim_ascii();
        let k = k.strip_prefix(b"\"").and_then(|k| k.strip_suffix(b"\""));
        if let (Some(gid), Some(seq)) = (k.and_then(int_at), int_at(v)) {
            out.push((gid, u64::try_from(seq).unwrap_or(0)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Dst;

    #[test]
    fn imedge_frames() {
        let d = br#"{"id":3,"cmd":11,"dstid":4,"media":1,"content":"1.7.g4.2.99:xx","userid":7,"seq":12,"ts":5}"#;
        assert_eq!(
            classify(d),
            Inbound::Deliver {
                stamp: Stamp {
                    run: 1,
                    sender: 7,
                    dst: Dst::Group(4),
                    seq: 2,
                    sent_us: 99
                },
                seq: Some(12)
            }
        );
        assert_eq!(
            classify(br#"{"cmd":20,"id":3,"seq":12,"ts":5}"#),
            Inbound::Ack { id: 3, seq: 12 }
        );
        assert_eq!(
            classify(br#"{"cmd":21,"id":3,"code":429,"msg":"rate"}"#),
            Inbound::Error { id: 3, code: 429 }
        );
        assert_eq!(
            classify(br#"{"cmd":31,"id":0,"inbox":4,"groups":{"7":1,"9":22},"truncated":true}"#),
            Inbound::SyncDone {
                id: 0,
                inbox: 4,
                groups: vec![(7, 1), (9, 22)]
            }
        );
        assert_eq!(
            classify(br#"{"cmd":31,"id":2,"inbox":0,"groups":{}}"#),
            Inbound::SyncDone {
                id: 2,
                inbox: 0,
                groups: vec![]
            }
        );
    }

    #[test]
    fn peer_frames_and_strangers() {
        let d = br#"{"id":0,"userid":7,"cmd":10,"dstid":8,"media":1,"content":"1.7.u8.1.5:"}"#;
        assert!(matches!(classify(d), Inbound::Deliver { seq: None, .. }));
        assert_eq!(
            classify(br#"{"cmd":10,"content":"hello"}"#),
            Inbound::Foreign
        );
        assert_eq!(classify(b"not json"), Inbound::Other);
        assert_eq!(classify(br#"{"cmd":0}"#), Inbound::Other);
    }
}
