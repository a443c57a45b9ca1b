//! The per-peer replay window and gap detection over datagram sequence
//! numbers.
//!
//! One bit per sequence number for the last [`WINDOW`] of them, indexed by
//! `seq % WINDOW`. A number above the highest seen is fresh and opens a gap
//! for those skipped; one within the window is fresh once; one older than
//! the window is refused. Numbers at or below `floor` were never expected
//! (the sender's life before this node first heard it) and are never NACKed.

use super::control::SeqRange;

/// Sequence numbers the window remembers.
pub const WINDOW: u64 = 1024;

const WORDS: usize = (WINDOW / 64) as usize;

/// A refused sequence number: seen already or older than the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replayed;

/// What accepting a fresh sequence number revealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fresh {
    /// Newly skipped numbers still inside the window: NACK them.
    pub gap: Option<SeqRange>,
    /// Newly skipped numbers that fell past the window at once (a jump of
    /// more than [`WINDOW`]); they cannot be asked for any more.
    pub unrecoverable: u64,
}

/// One peer incarnation's received sequence numbers.
#[derive(Clone, Debug)]
pub struct Window {
    top: u64,
    floor: u64,
    bits: [u64; WORDS],
}

impl Window {
    /// A window expecting numbers after `floor` (0 for a sender's whole life).
    pub fn after(floor: u64) -> Window {
        Window {
            top: floor,
            floor,
            bits: [0; WORDS],
        }
    }

    /// The highest number accepted (the floor if none yet).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Whether `seq` (at least 1) would be accepted; changes nothing.
    pub fn check(&self, seq: u64) -> Result<(), Replayed> {
        if seq > self.top {
            Ok(())
        } else if self.top - seq >= WINDOW || self.bit(seq) {
            Err(Replayed)
        } else {
            Ok(())
        }
    }

    /// Records `seq`, which [`check`](Self::check) accepted.
    pub fn accept(&mut self, seq: u64) -> Fresh {
        let mut fresh = Fresh::default();
        if seq > self.top {
            if seq - self.top >= WINDOW {
                self.bits = [0; WORDS];
            } else {
                for s in self.top + 1..seq {
                    self.clear(s);
                }
            }
            let skipped_first = self.top + 1;
            let oldest_kept = seq.saturating_sub(WINDOW - 1).max(skipped_first);
            fresh.unrecoverable = oldest_kept - skipped_first;
            if oldest_kept < seq {
                fresh.gap = Some(SeqRange {
                    first: oldest_kept,
                    last: seq - 1,
                });
            }
            self.top = seq;
        }
        self.set(seq);
        fresh
    }

    /// The numbers still missing among the last `span` up to the highest
    /// seen (at most the window, never at or below the floor), ascending.
    pub fn missing(&self, span: u64) -> Vec<SeqRange> {
        let low = (self.top + 1)
            .saturating_sub(span.min(WINDOW))
            .max(self.floor + 1);
        let mut out: Vec<SeqRange> = Vec::new();
        for s in low..=self.top {
            if self.bit(s) {
                continue;
            }
            match out.last_mut() {
                Some(r) if r.last + 1 == s => r.last = s,
                _ => out.push(SeqRange { first: s, last: s }),
            }
        }
        out
    }

    fn slot(seq: u64) -> (usize, u64) {
        let i = (seq % WINDOW) as usize;
        (i / 64, 1 << (i % 64))
    }

    fn bit(&self, seq: u64) -> bool {
        let (w, m) = Self::slot(seq);
        self.bits[w] & m != 0
    }

    fn set(&mut self, seq: u64) {
        let (w, m) = Self::slot(seq);
        self.bits[w] |= m;
    }

    fn clear(&mut self, seq: u64) {
        let (w, m) = Self::slot(seq);
        self.bits[w] &= !m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u64, last: u64) -> Option<SeqRange> {
        Some(SeqRange { first, last })
    }

    #[test]
    fn in_order_is_fresh_once() {
        let mut w = Window::after(0);
        for s in 1..=3000 {
            assert_eq!(w.check(s), Ok(()));
            assert_eq!(w.accept(s), Fresh::default());
            assert_eq!(w.check(s), Err(Replayed));
        }
        assert!(w.missing(WINDOW).is_empty());
    }

    #[test]
    fn gap_is_reported_then_filled_once() {
        let mut w = Window::after(0);
        w.accept(1);
        assert_eq!(w.accept(5).gap, range(2, 4));
        assert_eq!(w.missing(WINDOW), vec![SeqRange { first: 2, last: 4 }]);
        assert_eq!(w.check(3), Ok(()));
        assert_eq!(w.accept(3), Fresh::default());
        assert_eq!(w.check(3), Err(Replayed));
        assert_eq!(
            w.missing(WINDOW),
            vec![
                SeqRange { first: 2, last: 2 },
                SeqRange { first: 4, last: 4 }
            ]
        );
    }

    #[test]
    fn window_edges() {
        let mut w = Window::after(0);
        w.accept(2000);
        // The oldest number still inside: top - (WINDOW - 1).
        assert_eq!(w.check(2000 - (WINDOW - 1)), Ok(()));
        assert_eq!(w.check(2000 - WINDOW), Err(Replayed));
        w.accept(2000 - (WINDOW - 1));
        assert_eq!(w.check(2000 - (WINDOW - 1)), Err(Replayed));
        // Sliding by one pushes it out, and its bit is reused for 2001.
        w.accept(2001);
        assert_eq!(w.check(2000 - (WINDOW - 1)), Err(Replayed));
        assert_eq!(w.check(2001), Err(Replayed));
    }

    #[test]
    fn a_jump_past_the_window_counts_the_unrecoverable() {
        let mut w = Window::after(0);
        w.accept(10);
        let f = w.accept(10 + WINDOW + 5);
        // Skipped: 11 ..= 10 + WINDOW + 4; kept: the last WINDOW - 1 of them.
        assert_eq!(f.gap, range(16, 10 + WINDOW + 4));
        assert_eq!(f.unrecoverable, 5);
        assert_eq!(w.check(10), Err(Replayed));
    }

    #[test]
    fn nothing_at_or_below_the_floor_is_missing() {
        let mut w = Window::after(99);
        assert!(w.missing(WINDOW).is_empty());
        assert_eq!(w.accept(100), Fresh::default());
        assert_eq!(w.accept(103).gap, range(101, 102));
        assert_eq!(
            w.missing(WINDOW),
            vec![SeqRange {
                first: 101,
                last: 102
            }]
        );
        // A late arrival from before the floor is still fresh once.
        assert_eq!(w.check(98), Ok(()));
        w.accept(98);
        assert_eq!(w.check(98), Err(Replayed));
    }

    #[test]
    fn missing_respects_the_span() {
        let mut w = Window::after(0);
        w.accept(1);
        w.accept(100);
        assert_eq!(
            w.missing(10),
            vec![SeqRange {
                first: 91,
                last: 99
            }]
        );
    }
}
