//! A connection's bounded outbound queue of shared frames.

use std::collections::VecDeque;

use bytes::{Buf, Bytes};

/// The queue would exceed its byte bound: the connection is a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Frames waiting to be written, each a clone of a shared `Bytes`.
#[derive(Default, Debug)]
pub struct OutQueue {
    frames: VecDeque<Bytes>,
    bytes: usize,
    /// The front frame is partly written: it must finish before anything else goes.
    front_started: bool,
}

impl OutQueue {
    /// Queues `frame` unless the queued bytes would exceed `bound`.
    pub fn push(&mut self, frame: Bytes, bound: usize) -> Result<(), Overflow> {
        if self.bytes + frame.len() > bound && !self.frames.is_empty() {
            return Err(Overflow);
        }
        self.bytes += frame.len();
        self.frames.push_back(frame);
        Ok(())
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The first `max` queued slices, in order, for one vectored write.
    pub fn slices(&self, max: usize) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().take(max).map(|b| b.as_ref())
    }

    /// Drops `n` written bytes from the front (a partial write keeps the rest).
    pub fn consume(&mut self, mut n: usize) {
        self.bytes -= n.min(self.bytes);
        while n > 0 {
            let Some(front) = self.frames.front_mut() else {
                return;
            };
            if front.len() <= n {
                n -= front.len();
                self.frames.pop_front();
                self.front_started = false;
                if self.frames.is_empty() {
                    // An idle connection keeps no queue storage (4 slots = 128 bytes).
                    self.frames = VecDeque::new();
                }
            } else {
                front.advance(n);
                self.front_started = true;
                return;
            }
        }
    }

    /// Drops everything queued, a partly written frame too (the peer is gone).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Drops every frame not yet started, keeping a partly written one so the
    /// stream stays well-framed for a closing frame queued after it.
    pub fn clear_unsent(&mut self) {
        let keep = if self.front_started {
            self.frames.pop_front()
        } else {
            None
        };
        self.frames = VecDeque::new();
        self.bytes = keep.as_ref().map_or(0, Bytes::len);
        self.frames.extend(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_keep_the_tail_in_order() {
        let mut q = OutQueue::default();
        q.push(Bytes::from_static(b"abc"), 100).unwrap();
        q.push(Bytes::from_static(b"defg"), 100).unwrap();
        q.consume(4);
        assert_eq!(q.bytes(), 3);
        assert_eq!(q.slices(8).collect::<Vec<_>>(), vec![&b"efg"[..]]);
        q.consume(3);
        assert!(q.is_empty());
    }

    #[test]
    fn the_bound_refuses_growth_but_never_an_empty_queue() {
        let mut q = OutQueue::default();
        q.push(Bytes::from(vec![0; 10]), 4).unwrap();
        assert_eq!(q.push(Bytes::from_static(b"x"), 4), Err(Overflow));
        q.consume(10);
        q.push(Bytes::from_static(b"x"), 4).unwrap();
    }

    #[test]
    fn clearing_keeps_only_a_partly_written_frame() {
        let mut q = OutQueue::default();
        q.push(Bytes::from_static(b"abc"), 100).unwrap();
        q.push(Bytes::from_static(b"def"), 100).unwrap();
        q.clear_unsent();
        assert!(q.is_empty());
        q.push(Bytes::from_static(b"abc"), 100).unwrap();
        q.push(Bytes::from_static(b"def"), 100).unwrap();
        q.consume(1);
        q.clear_unsent();
        assert_eq!(q.slices(8).collect::<Vec<_>>(), vec![&b"bc"[..]]);
        assert_eq!(q.bytes(), 2);
    }
}
