//! The fixed 32-byte header every datagram starts with, and its constants.

/// A node's id in the cluster, as configured.
pub type NodeId = u32;

/// First four bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"IMdg";
/// Datagram format version; a peer speaking another one is dropped.
pub const VERSION: u8 = 1;
/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Bytes of the truncated HMAC-SHA256 tag at the end of every datagram.
pub const MAC_LEN: usize = 16;
/// Header plus tag: the bytes of a datagram that are not body.
pub const OVERHEAD: usize = HEADER_LEN + MAC_LEN;
/// Largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP).
pub const MAX_DATAGRAM: usize = 65_507;

/// What a datagram's body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A batch of frames, each with its target user or group.
    Deliver = 1,
    /// Users online or offline on a node.
    Presence = 2,
    /// Users joining or leaving groups.
    Membership = 3,
    /// A node's liveness and view of the cluster.
    Heartbeat = 4,
    /// Sequence ranges the sender of this datagram is missing.
    Nack = 5,
    /// One piece of a frame too large for one datagram.
    Fragment = 6,
    /// Client messages forwarded to the recipient's owner node.
    Submit = 7,
    /// Acks and errors for connections of the node that forwarded.
    Reply = 8,
}

impl Kind {
    /// The kind for a header's kind byte, or `None` for an unknown one.
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Deliver,
            2 => Kind::Presence,
            3 => Kind::Membership,
            4 => Kind::Heartbeat,
            5 => Kind::Nack,
            6 => Kind::Fragment,
            7 => Kind::Submit,
            8 => Kind::Reply,
            _ => return None,
        })
    }
}

/// The header's fields (see the layout in the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The kind byte, judged only once the MAC has passed.
    pub kind: u8,
    /// Bytes between the header and the tag.
    pub body_len: u16,
    /// The node that sent the datagram.
    pub sender: NodeId,
    /// The node it was sealed for.
    pub dest: NodeId,
    /// The sender's incarnation: it grows at every restart, and sequence
    /// numbers start again at 1 under a new one.
    pub incarnation: u64,
    /// Per (sender, dest, incarnation) datagram sequence number, from 1.
    pub seq: u64,
}

impl Header {
    /// The header's 32 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = self.kind;
        b[6..8].copy_from_slice(&self.body_len.to_be_bytes());
        b[8..12].copy_from_slice(&self.sender.to_be_bytes());
        b[12..16].copy_from_slice(&self.dest.to_be_bytes());
        b[16..24].copy_from_slice(&self.incarnation.to_be_bytes());
        b[24..32].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// The fields of the header at the front of `b` (magic and version are
    /// judged by the caller); `b` holds at least [`HEADER_LEN`] bytes.
    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> Header {
        let be32 = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let be64 = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Header {
            kind: b[5],
            body_len: u16::from_be_bytes([b[6], b[7]]),
            sender: be32(8),
            dest: be32(12),
            incarnation: be64(16),
            seq: be64(24),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_is_big_endian() {
        let h = Header {
            kind: Kind::Nack as u8,
            body_len: 0x0102,
            sender: 0x0304_0506,
            dest: 7,
            incarnation: 0x1122_3344_5566_7788,
            seq: 9,
        };
        let b = h.to_bytes();
        assert_eq!(&b[..8], b"IMdg\x01\x05\x01\x02");
        assert_eq!(&b[8..12], &[3, 4, 5, 6]);
        assert_eq!(b[31], 9);
        assert_eq!(Header::from_bytes(&b), h);
    }

    #[test]
    fn every_kind_byte_maps_back() {
        for k in 0..=255u8 {
            if let Some(kind) = Kind::from_u8(k) {
                assert_eq!(kind as u8, k);
            } else {
                assert!(k == 0 || k > 8);
            }
        }
    }
}
