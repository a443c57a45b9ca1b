//! A connection's replay in progress (the offline push or a cmd 30): the
//! frames that must wait behind it, and the waker of the task that feeds
//! the replay's pages as the connection's queue drains.
//!
//! Every frame for the connection other than the replay's own (live
//! messages, acks, errors, pongs) waits here until the replay's cmd 31 is
//! queued, so the client sees the replay first. A live message whose seq
//! the replay already carried is dropped when it is released (see
//! [`super::carried`]), so none arrives twice.

use std::collections::VecDeque;
use std::task::Waker;

use bytes::Bytes;

use crate::msg::SyncRequest;
use crate::shard::ConnRef;
use crate::store::LogKey;

/// A held frame: its log and seq when it is a numbered message.
pub type Tagged = (Option<(LogKey, u64)>, Bytes);

/// The frames held would exceed their bound: the client is a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// One connection's replay state.
pub struct Held {
    /// The connection (a slab key outlives it, a `ConnRef` does not).
    pub conn: ConnRef,
    frames: VecDeque<Tagged>,
    bytes: usize,
    /// The replay task, woken when the connection's queue drains or it closes.
    pub waker: Option<Waker>,
    /// cmd 30 requests that came during the replay: (id, request), answered after it.
    pub syncs: VecDeque<(i64, SyncRequest)>,
}

impl Held {
    /// A replay starting on `conn`, holding nothing yet.
    pub fn new(conn: ConnRef) -> Held {
        Held {
            conn,
            frames: VecDeque::new(),
            bytes: 0,
            waker: None,
            syncs: VecDeque::new(),
        }
    }

    /// Holds `frame` unless the held bytes would exceed `bound`.
    pub fn hold(
        &mut self,
        tag: Option<(LogKey, u64)>,
        frame: Bytes,
        bound: usize,
    ) -> Result<(), Overflow> {
        if self.bytes + frame.len() > bound && !self.frames.is_empty() {
            return Err(Overflow);
        }
        self.bytes += frame.len();
        self.frames.push_back((tag, frame));
        Ok(())
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes the held frames, in order.
    pub fn release(&mut self) -> Vec<Tagged> {
        self.bytes = 0;
        std::mem::take(&mut self.frames).into()
    }

    /// Wakes the replay task, if it waits.
    pub fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ConnRef {
        ConnRef {
            core: 0,
            key: 1,
            id: 1,
        }
    }

    #[test]
    fn release_gives_every_frame_in_order_with_its_tag_and_empties() {
        let mut h = Held::new(conn());
        let tags = [
            Some((LogKey::Inbox(1), 9)),
            None,
            Some((LogKey::Group(5), 3)),
        ];
        for (i, tag) in tags.into_iter().enumerate() {
            h.hold(tag, Bytes::from(vec![b'a' + i as u8]), 100).unwrap();
        }
        let out = h.release();
        let got: Vec<_> = out.iter().map(|(tag, f)| (*tag, f[0])).collect();
        assert_eq!(got, vec![(tags[0], b'a'), (tags[1], b'b'), (tags[2], b'c')]);
        assert_eq!(h.bytes(), 0);
        assert!(h.release().is_empty());
    }

    #[test]
    fn holding_is_bounded_but_takes_one_frame_whatever_its_size() {
        let mut h = Held::new(conn());
        h.hold(None, Bytes::from(vec![0; 50]), 10).unwrap();
        assert_eq!(h.hold(None, Bytes::from(vec![0; 1]), 10), Err(Overflow));
        assert_eq!(h.bytes(), 50);
    }
}
