//! The body of a sync request (cmd 30): the last inbox and group sequences
//! the client has seen.

use simd_json::Node;

use super::fields::Field;
use super::limits::MAX_SYNC_GROUPS;
use super::tape::{as_u64, span};

/// What a client already has: replay starts after these sequences.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncRequest {
    /// Last inbox sequence seen (0: none).
    pub inbox: u64,
    /// `(gid, last group sequence seen)`, in the order the client sent them.
    pub groups: Vec<(u64, u64)>,
}

/// Why a sync body was refused: `(code, reason)`.
pub(crate) type SyncError = (u16, &'static str);

/// Reads `inbox` and `groups` from their tape positions (`None`: absent).
pub(crate) fn read(
    nodes: &[Node<'_>],
    inbox: Option<usize>,
    groups: Option<usize>,
) -> Result<SyncRequest, SyncError> {
    let inbox = match inbox {
        None => 0,
        Some(at) => as_u64(&nodes[at]).ok_or((400, Field::Inbox.wrong_type()))?,
    };
    let Some(at) = groups else {
        return Ok(SyncRequest {
            inbox,
            groups: Vec::new(),
        });
    };
    let Node::Object { len, .. } = nodes[at] else {
        return Err((400, Field::Groups.wrong_type()));
    };
    if len > MAX_SYNC_GROUPS {
        return Err((413, Field::Groups.too_long()));
    }
    let mut out = Vec::with_capacity(len);
    let mut i = at + 1;
    for _ in 0..len {
        let Node::String(key) = nodes[i] else {
            return Err((400, Field::Groups.wrong_type()));
        };
        let gid = gid(key).ok_or((400, "\"groups\" keys must be decimal group ids > 0"))?;
        let seq = as_u64(&nodes[i + 1])
            .ok_or((400, "\"groups\" values must be non-negative integers"))?;
        out.push((gid, seq));
        i += 1 + span(&nodes[i + 1]);
    }
    Ok(SyncRequest { inbox, groups: out })
}

/// A group id written the way the server writes it back in cmd 31: decimal
/// digits, no sign, no leading zero, above 0. Anything else would come back
/// under a different key than the client sent.
fn gid(key: &str) -> Option<u64> {
    let bytes = key.as_bytes();
    if bytes.first() == Some(&b'0') || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gid_keys_are_canonical_decimals() {
        assert_eq!(gid("7"), Some(7));
        assert_eq!(gid("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "0",
            "07",
            "+7",
            "-7",
            " 7",
            "7a",
            "18446744073709551616",
        ] {
            assert_eq!(gid(bad), None, "{bad:?}");
        }
    }
}
