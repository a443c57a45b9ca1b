//! Fragment bodies: a frame too large for one datagram travels as up to
//! 65,535 numbered pieces, each in its own datagram, and is reassembled
//! whole (see `reassembly`) — never truncated.
//!
//! A fragment is the message id (u64, per sender), its index and the count
//! (u16 each), the target (9 bytes), then the piece (the rest, non-empty).

use bytes::{BufMut, Bytes};

use super::drop_reason::DropReason;
use super::reader::Reader;
use super::records::Target;

/// Bytes of a fragment body before its piece.
pub const FRAGMENT_HEADER: usize = 8 + 2 + 2 + Target::LEN;

/// One piece of a large frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Identifies the frame among its sender's fragmented frames.
    pub message: u64,
    /// This piece's position, from 0.
    pub index: u16,
    /// How many pieces the frame was cut into (at least 1).
    pub count: u16,
    /// Who the frame is for (the same in every piece).
    pub target: Target,
    /// The piece's bytes.
    pub piece: Bytes,
}

impl Fragment {
    /// Appends the body's header; the piece follows it.
    pub(super) fn put_header(
        message: u64,
        index: u16,
        count: u16,
        target: Target,
        out: &mut impl BufMut,
    ) {
        out.put_u64(message);
        out.put_u16(index);
        out.put_u16(count);
        target.put(out);
    }

    pub(super) fn read(body: Bytes) -> Result<Fragment, DropReason> {
        let mut r = Reader::new(&body);
        let message = r.u64()?;
        let index = r.u16()?;
        let count = r.u16()?;
        let target = Target::read(&mut r)?;
        if count == 0 || index >= count || r.remaining() == 0 {
            return Err(DropReason::Malformed);
        }
        Ok(Fragment {
            message,
            index,
            count,
            target,
            piece: body.slice(FRAGMENT_HEADER..),
        })
    }
}

/// How many pieces of at most `piece_cap` bytes a frame of `len` bytes
/// needs, or `None` if more than 65,535.
pub fn piece_count(len: usize, piece_cap: usize) -> Option<u16> {
    u16::try_from(len.div_ceil(piece_cap)).ok()
}
