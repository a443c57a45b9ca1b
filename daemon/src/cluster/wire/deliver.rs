//! Deliver bodies: frames with their targets, each frame's bytes exactly as
//! they go to the WebSocket (already stamped with its seq).
//!
//! An item is the target (9 bytes), the frame length (u16) and the frame.
//! A received body is checked once, whole, then iterated without copying:
//! each frame is a slice of the received datagram.

use bytes::{BufMut, Bytes};

use super::drop_reason::DropReason;
use super::reader::Reader;
use super::records::Target;

/// Bytes of an item before its frame.
pub const ITEM_HEADER: usize = Target::LEN + 2;

/// One frame for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverItem {
    /// Who the frame is for.
    pub target: Target,
    /// The WebSocket frame, written to the target's connections as-is.
    pub frame: Bytes,
}

impl DeliverItem {
    /// Encoded size of an item carrying a frame of `frame_len` bytes.
    pub fn encoded_len(frame_len: usize) -> usize {
        ITEM_HEADER + frame_len
    }

    /// Appends the item (the frame's one copy). The frame must be 1 to
    /// 65,535 bytes; larger ones travel as fragments.
    pub(super) fn put(&self, out: &mut impl BufMut) {
        let len = u16::try_from(self.frame.len()).expect("frame fits a deliver item");
        self.target.put(out);
        out.put_u16(len);
        out.put_slice(&self.frame);
    }
}

/// The items of a checked deliver body, in order.
#[derive(Clone, Debug)]
pub struct Items {
    body: Bytes,
    count: usize,
}

impl Items {
    /// Checks every item of `body`: user or group targets, non-empty frames,
    /// lengths within the body, nothing left over, at least one item.
    pub(super) fn parse(body: Bytes) -> Result<Items, DropReason> {
        let mut r = Reader::new(&body);
        let mut count = 0;
        while r.remaining() > 0 {
            if let Target::Submit(_) = Target::read(&mut r)? {
                return Err(DropReason::Malformed);
            }
            let len = r.u16()?;
            if len == 0 {
                return Err(DropReason::Malformed);
            }
            r.bytes(len.into())?;
            count += 1;
        }
        if count == 0 {
            return Err(DropReason::Malformed);
        }
        Ok(Items { body, count })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no items (never, for a parsed body).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl Iterator for Items {
    type Item = DeliverItem;

    fn next(&mut self) -> Option<DeliverItem> {
        if self.body.is_empty() {
            return None;
        }
        let mut r = Reader::new(&self.body);
        let target = Target::read(&mut r).expect("checked by parse");
        let len = usize::from(r.u16().expect("checked by parse"));
        let frame = self.body.slice(ITEM_HEADER..ITEM_HEADER + len);
        self.body = self.body.slice(ITEM_HEADER + len..);
        self.count -= 1;
        Some(DeliverItem { target, frame })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.count, Some(self.count))
    }
}

impl ExactSizeIterator for Items {}
