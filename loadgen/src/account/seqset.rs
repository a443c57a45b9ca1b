//! A set of sequence numbers (from 1) kept as its maximum plus the ranges
//! missing below it: a stream delivered in order costs 16 bytes whatever its
//! length; each gap costs one range until it is filled.

use serde::{Deserialize, Serialize};

/// What inserting a sequence number found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Above everything seen: in order (possibly after a gap).
    New,
    /// Below the maximum, filling a gap: it arrived out of order.
    Late,
    /// Already in the set.
    Dup,
}

/// Sequence numbers seen, as `max` and the sorted, disjoint, inclusive
/// ranges below `max` that are missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqSet {
    max: u64,
    holes: Vec<(u64, u64)>,
}

impl SeqSet {
    /// A set holding exactly 1..=n (a log's history before the run).
    pub fn through(n: u64) -> SeqSet {
        SeqSet {
            max: n,
            holes: Vec::new(),
        }
    }

    /// Adds `seq` (0 is never a sequence number and counts as a duplicate).
    pub fn insert(&mut self, seq: u64) -> Insert {
        if seq == 0 {
            return Insert::Dup;
        }
        if seq > self.max {
            if seq > self.max + 1 {
                self.holes.push((self.max + 1, seq - 1));
            }
            self.max = seq;
            return Insert::New;
        }
        let Some(i) = self.hole_of(seq) else {
            return Insert::Dup;
        };
        let (lo, hi) = self.holes[i];
        match (seq == lo, seq == hi) {
            (true, true) => {
                self.holes.remove(i);
            }
            (true, false) => self.holes[i].0 = seq + 1,
            (false, true) => self.holes[i].1 = seq - 1,
            (false, false) => {
                self.holes[i].1 = seq - 1;
                self.holes.insert(i + 1, (seq + 1, hi));
            }
        }
        Insert::Late
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        seq != 0 && seq <= self.max && self.hole_of(seq).is_none()
    }

    /// The largest sequence seen (0: none).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The largest `n` such that 1..=n are all in the set.
    pub fn contiguous(&self) -> u64 {
        self.holes.first().map_or(self.max, |h| h.0 - 1)
    }

    /// How many sequence numbers are in the set.
    pub fn len(&self) -> u64 {
        self.max - self.missing_below(self.max)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.max == 0
    }

    /// How many members are at most `upto`.
    pub fn len_upto(&self, upto: u64) -> u64 {
        let top = upto.min(self.max);
        top - self.missing_below(top)
    }

    /// Missing numbers in 1..=top (top <= max).
    fn missing_below(&self, top: u64) -> u64 {
        self.holes
            .iter()
            .take_while(|h| h.0 <= top)
            .map(|&(lo, hi)| hi.min(top) - lo + 1)
            .sum()
    }

    fn hole_of(&self, seq: u64) -> Option<usize> {
        // Holes are sorted and disjoint: the candidate is the last one
        // starting at or below `seq`.
        let i = self.holes.partition_point(|h| h.0 <= seq);
        (i > 0 && self.holes[i - 1].1 >= seq).then(|| i - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_streams_have_no_holes() {
        let mut s = SeqSet::default();
        for k in 1..=1000 {
            assert_eq!(s.insert(k), Insert::New);
        }
        assert_eq!((s.len(), s.contiguous(), s.holes.len()), (1000, 1000, 0));
        assert_eq!(s.insert(500), Insert::Dup);
        assert_eq!(s.insert(0), Insert::Dup);
    }

    #[test]
    fn gaps_are_filled_late_and_counted() {
        let mut s = SeqSet::default();
        for k in [1, 2, 6, 3, 10, 8] {
            s.insert(k);
        }
        // Missing: 4, 5, 7, 9.
        assert_eq!(s.len(), 6);
        assert_eq!(s.contiguous(), 3);
        assert_eq!(s.holes, vec![(4, 5), (7, 7), (9, 9)]);
        assert!(!s.contains(4) && s.contains(6) && !s.contains(11));
        assert_eq!(s.len_upto(6), 4);
        assert_eq!(s.len_upto(100), 6);
        assert_eq!(s.insert(7), Insert::Late);
        assert_eq!(s.insert(7), Insert::Dup);
        assert_eq!(s.insert(5), Insert::Late);
        assert_eq!(s.insert(4), Insert::Late);
        assert_eq!(s.contiguous(), 8);
        assert_eq!(s.insert(9), Insert::Late);
        assert_eq!((s.len(), s.contiguous()), (10, 10));
    }

    #[test]
    fn filling_the_middle_of_a_range_splits_it() {
        let mut s = SeqSet::default();
        s.insert(10);
        assert_eq!(s.insert(5), Insert::Late);
        assert_eq!(s.holes, vec![(1, 4), (6, 9)]);
        assert_eq!(s.len(), 2);
    }
}
