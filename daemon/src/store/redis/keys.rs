//! Where everything lives in Redis, laid out for Redis Cluster.
//!
//! Every key carries a hash tag, so all keys of one user (`{u:42}`), one
//! group (`{g:7}`) or one mobile number (`{m:…}`) share a slot, and the id
//! counters sit together in `{ids}`. A script or a command only ever names
//! keys of one tag: nothing needs a multi-slot operation.
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `im:{u:U}:inbox`, `im:{g:G}:log` | list | stored messages, oldest first (see [`entry`]) |
//! | `…:inbox:last`, `…:log:last` | string | the log's last seq; never expires, never trimmed |
//! | `…:inbox:reserved`, `…:log:reserved` | string | read only: the highest seq an earlier imedge (which showed messages before storing them) may have shown; numbering resumes above it |
//! | `im:{u:U}:user` | hash | `known`, and for accounts `mobile`, `hash`, `nickname` |
//! | `im:{u:U}:friends` | set | friend uids |
//! | `im:{u:U}:groups` | set | gids the user belongs to |
//! | `im:{u:U}:cursor` | string | delivery cursor, `inbox;gid:seq,gid:seq` |
//! | `im:{g:G}:group` | hash | `name`, `owner` |
//! | `im:{g:G}:members` | set | member uids |
//! | `im:{m:MOBILE}:uid:MOBILE` | string | the uid registered with that mobile |
//! | `im:{ids}:uid`, `im:{ids}:gid` | string | id counters (INCR) |

use crate::store::LogKey;

/// The list holding `log`'s stored messages.
pub fn log(log: LogKey) -> String {
    match log {
        LogKey::Inbox(u) => format!("im:{{u:{u}}}:inbox"),
        LogKey::Group(g) => format!("im:{{g:{g}}}:log"),
    }
}

/// The counter holding `log`'s last seq (same slot as [`log`]).
pub fn last(log: LogKey) -> String {
    match log {
        LogKey::Inbox(u) => format!("im:{{u:{u}}}:inbox:last"),
        LogKey::Group(g) => format!("im:{{g:{g}}}:log:last"),
    }
}

/// The highest seq of `log` an earlier imedge reserved for live delivery
/// (same slot as [`log`]); read, never written now.
pub fn reserved(log: LogKey) -> String {
    match log {
        LogKey::Inbox(u) => format!("im:{{u:{u}}}:inbox:reserved"),
        LogKey::Group(g) => format!("im:{{g:{g}}}:log:reserved"),
    }
}

/// The hash of a user (known flag and account fields).
pub fn user(uid: i64) -> String {
    format!("im:{{u:{uid}}}:user")
}

/// The set of a user's friends.
pub fn friends(uid: i64) -> String {
    format!("im:{{u:{uid}}}:friends")
}

/// The set of groups a user belongs to.
pub fn user_groups(uid: i64) -> String {
    format!("im:{{u:{uid}}}:groups")
}

/// A user's delivery cursor.
pub fn cursor(uid: i64) -> String {
    format!("im:{{u:{uid}}}:cursor")
}

/// The hash describing a group.
pub fn group(gid: i64) -> String {
    format!("im:{{g:{gid}}}:group")
}

/// The set of a group's members.
pub fn members(gid: i64) -> String {
    format!("im:{{g:{gid}}}:members")
}

/// The uid registered with `mobile`.
pub fn mobile(mobile: &str) -> String {
    // A `{` or `}` inside the number would end the hash tag early: the tag
    // holds a cleaned copy, the exact number follows it (outside the tag).
    let clean: String = mobile
        .chars()
        .map(|c| if c == '{' || c == '}' { '_' } else { c })
        .collect();
    format!("im:{{m:{clean}}}:uid:{mobile}")
}

/// The counter of registered uids.
pub const NEXT_UID: &str = "im:{ids}:uid";
/// The counter of group ids.
pub const NEXT_GID: &str = "im:{ids}:gid";

/// Digits of the timestamp that prefixes each list entry.
pub const TS_DIGITS: usize = 13;

/// Digits of the seq that follows the timestamp in each list entry.
pub const SEQ_DIGITS: usize = 20;

/// A list entry: the store time in Unix ms as [`TS_DIGITS`] decimal digits
/// (so the append script can read a message's age without a decoder), the
/// seq as [`SEQ_DIGITS`] digits (seqs skip where a crash left a gap, so a
/// list position alone does not give it), then the frame as delivered live.
pub fn entry(ts_ms: i64, seq: u64, frame: &[u8]) -> Vec<u8> {
    let mut e = format!(
        "{:0tw$}{:0sw$}",
        ts_ms.max(0),
        seq,
        tw = TS_DIGITS,
        sw = SEQ_DIGITS
    )
    .into_bytes();
    e.extend_from_slice(frame);
    e
}

/// Splits an entry into its timestamp, seq and frame; None for a malformed entry.
pub fn split_entry(e: &[u8]) -> Option<(i64, u64, &[u8])> {
    if e.len() < TS_DIGITS + SEQ_DIGITS {
        return None;
    }
    let (ts, rest) = e.split_at(TS_DIGITS);
    let (seq, frame) = rest.split_at(SEQ_DIGITS);
    let ts = std::str::from_utf8(ts).ok()?.parse().ok()?;
    let seq = std::str::from_utf8(seq).ok()?.parse().ok()?;
    Some((ts, seq, frame))
}

/// The hash slot of `key` as Redis Cluster computes it (tests check that
/// keys of one user or group share one).
#[cfg(test)]
pub fn slot(key: &str) -> u16 {
    let b = key.as_bytes();
    let tagged = b
        .iter()
        .position(|&c| c == b'{')
        .and_then(|open| {
            let close = b[open + 1..].iter().position(|&c| c == b'}')?;
            (close > 0).then(|| &b[open + 1..open + 1 + close])
        })
        .unwrap_or(b);
    crc16_xmodem(tagged) % 16384
}

#[cfg(test)]
fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_matches_the_cluster_spec() {
        // The example of the Redis Cluster specification.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
    }

    #[test]
    fn one_slot_per_user_and_per_group() {
        let u = LogKey::Inbox(42);
        let s = slot(&user(42));
        for k in [log(u), last(u), friends(42), user_groups(42), cursor(42)] {
            assert_eq!(slot(&k), s, "{k}");
        }
        let g = LogKey::Group(7);
        let s = slot(&group(7));
        for k in [log(g), last(g), members(7)] {
            assert_eq!(slot(&k), s, "{k}");
        }
        assert_eq!(slot(NEXT_UID), slot(NEXT_GID));
        assert_ne!(log(LogKey::Inbox(7)), log(LogKey::Group(7)));
    }

    #[test]
    fn mobile_keys_stay_tagged() {
        assert_eq!(slot(&mobile("1{3}8")), slot("{m:1_3_8}"));
        assert_ne!(
            mobile("1{3}8"),
            mobile("1_3_8"),
            "distinct numbers keep distinct keys"
        );
    }

    #[test]
    fn entries_round_trip() {
        let e = entry(1_700_000_000_123, 42, b"\x00{\"a\":1}\xff");
        assert_eq!(
            split_entry(&e),
            Some((1_700_000_000_123, 42, &b"\x00{\"a\":1}\xff"[..]))
        );
        assert_eq!(split_entry(b"12"), None);
        assert_eq!(split_entry(b"12345678901x3abc"), None);
    }
}
