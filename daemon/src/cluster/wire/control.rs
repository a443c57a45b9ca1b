//! Control bodies: heartbeats (liveness and the cluster view) and NACKs
//! (sequence ranges to resend).

use bytes::BufMut;

use super::drop_reason::DropReason;
use super::header::NodeId;
use super::reader::Reader;

/// An inclusive range of datagram sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqRange {
    /// First sequence number in the range.
    pub first: u64,
    /// Last sequence number in the range (inclusive).
    pub last: u64,
}

impl SeqRange {
    /// Encoded size.
    pub const LEN: usize = 16;

    /// How many sequence numbers the range holds.
    pub fn count(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// A node's periodic "I am alive": the incarnation in the header tells a
/// restart, the body the view the sender's ring is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// A digest of the sender's cluster configuration (server list, weights,
    /// addresses): nodes whose digests differ build different rings.
    pub config_digest: u64,
    /// The peers the sender currently considers up.
    pub alive: Vec<NodeId>,
}

impl Heartbeat {
    /// Encoded size.
    pub fn len(&self) -> usize {
        8 + 4 * self.alive.len()
    }

    /// Whether the heartbeat lists no live peers.
    pub fn is_empty(&self) -> bool {
        self.alive.is_empty()
    }

    pub(super) fn put(&self, out: &mut impl BufMut) {
        out.put_u64(self.config_digest);
        for node in &self.alive {
            out.put_u32(*node);
        }
    }

    pub(super) fn read(body: &[u8]) -> Result<Heartbeat, DropReason> {
        if body.len() < 8 || !(body.len() - 8).is_multiple_of(4) {
            return Err(DropReason::Malformed);
        }
        let mut r = Reader::new(body);
        let config_digest = r.u64()?;
        let mut alive = Vec::with_capacity(r.remaining() / 4);
        while r.remaining() > 0 {
            alive.push(r.u32()?);
        }
        Ok(Heartbeat {
            config_digest,
            alive,
        })
    }
}

/// "Resend these": the datagrams the NACK's sender is missing from the
/// receiver's `incarnation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// The incarnation of the node asked to resend; a NACK meant for an
    /// earlier life of that node is not answered.
    pub incarnation: u64,
    /// Missing sequence numbers, ascending.
    pub ranges: Vec<SeqRange>,
}

impl Nack {
    /// Bytes before the ranges.
    pub const FIXED_LEN: usize = 8;

    pub(super) fn put(incarnation: u64, ranges: &[SeqRange], out: &mut impl BufMut) {
        out.put_u64(incarnation);
        for r in ranges {
            out.put_u64(r.first);
            out.put_u64(r.last);
        }
    }

    pub(super) fn read(body: &[u8]) -> Result<Nack, DropReason> {
        let n = body.len().wrapping_sub(Self::FIXED_LEN);
        if body.len() < Self::FIXED_LEN + SeqRange::LEN || !n.is_multiple_of(SeqRange::LEN) {
            return Err(DropReason::Malformed);
        }
        let mut r = Reader::new(body);
        let incarnation = r.u64()?;
        let mut ranges = Vec::with_capacity(n / SeqRange::LEN);
        while r.remaining() > 0 {
            let range = SeqRange {
                first: r.u64()?,
                last: r.u64()?,
            };
            if range.first == 0 || range.first > range.last {
                return Err(DropReason::Malformed);
            }
            ranges.push(range);
        }
        Ok(Nack {
            incarnation,
            ranges,
        })
    }
}
