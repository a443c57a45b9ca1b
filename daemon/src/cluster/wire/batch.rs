//! One peer's open batch: items of one kind appended into a datagram buffer
//! until it is full or its oldest item has waited long enough.

use bytes::BytesMut;

use super::header::{Kind, HEADER_LEN};
use super::item::Item;
use super::seal::datagram_buf;

/// Items waiting for their datagram.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) kind: Kind,
    pub(super) buf: BytesMut,
    /// When the oldest item was queued.
    pub(super) since: u64,
}

impl Batch {
    /// An empty batch for `kind` with room for `body_cap` body bytes.
    pub(super) fn new(kind: Kind, body_cap: usize, now: u64) -> Batch {
        Batch {
            kind,
            buf: datagram_buf(body_cap),
            since: now,
        }
    }

    /// Body bytes so far.
    pub(super) fn body_len(&self) -> usize {
        self.buf.len() - HEADER_LEN
    }

    /// Whether `item` may join: same kind and room left under `body_cap`.
    pub(super) fn fits(&self, item: &Item, body_cap: usize) -> bool {
        item.kind() == self.kind && self.body_len() + item.encoded_len() <= body_cap
    }

    /// Appends `item` (for a frame: its one copy).
    pub(super) fn push(&mut self, item: &Item) {
        item.put(&mut self.buf);
    }
}
