//! A peer's short send history: the last N sealed datagrams, to answer NACKs
//! with the very same bytes (a resend keeps its sequence number).

use std::collections::VecDeque;

use bytes::Bytes;

use super::control::SeqRange;

/// NACKed numbers that were not resent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unanswered {
    /// Sent, but fallen out of the history (or sent in an earlier life): the
    /// receiver relies on sync, as the messages are stored.
    pub expired: Vec<SeqRange>,
    /// Never sent to this peer: the NACK is wrong.
    pub unsent: Vec<SeqRange>,
}

impl Unanswered {
    /// Whether every NACKed number was resent.
    pub fn is_empty(&self) -> bool {
        self.expired.is_empty() && self.unsent.is_empty()
    }

    /// How many expired sequence numbers were asked for.
    pub fn expired_count(&self) -> u64 {
        self.expired.iter().map(SeqRange::count).sum()
    }
}

/// The last `cap` datagrams sent to one peer, with consecutive numbers.
#[derive(Debug)]
pub struct History {
    cap: usize,
    /// Sequence number of `sent[0]`.
    first: u64,
    sent: VecDeque<Bytes>,
}

impl History {
    /// An empty history of `cap` datagrams (at least 1).
    pub fn new(cap: usize) -> History {
        assert!(cap > 0, "a history holds at least one datagram");
        History {
            cap,
            first: 1,
            sent: VecDeque::with_capacity(cap),
        }
    }

    /// The next number [`record`](Self::record) expects.
    pub fn next_seq(&self) -> u64 {
        self.first + self.sent.len() as u64
    }

    /// Keeps `datagram`, sent with `seq`, which is [`next_seq`](Self::next_seq).
    pub fn record(&mut self, seq: u64, datagram: Bytes) {
        assert_eq!(seq, self.next_seq(), "history records consecutive numbers");
        if self.sent.len() == self.cap {
            self.sent.pop_front();
            self.first += 1;
        }
        self.sent.push_back(datagram);
    }

    /// Calls `resend(seq, bytes)` for every NACKed number still held, in the
    /// order asked, and returns the rest.
    pub fn answer(&self, ranges: &[SeqRange], mut resend: impl FnMut(u64, &Bytes)) -> Unanswered {
        let mut un = Unanswered::default();
        let next = self.next_seq();
        for r in ranges {
            let (first, last) = (r.first.max(1), r.last);
            if first > last {
                continue;
            }
            if first < self.first {
                let end = last.min(self.first - 1);
                un.expired.push(SeqRange { first, last: end });
            }
            let held_first = first.max(self.first);
            let held_last = last.min(next - 1);
            for seq in held_first..=held_last {
                resend(seq, &self.sent[(seq - self.first) as usize]);
            }
            if last >= next {
                un.unsent.push(SeqRange {
                    first: first.max(next),
                    last,
                });
            }
        }
        un
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> SeqRange {
        SeqRange { first, last }
    }

    fn history(cap: usize, sent: u64) -> History {
        let mut h = History::new(cap);
        for seq in 1..=sent {
            h.record(seq, Bytes::from(seq.to_string()));
        }
        h
    }

    fn answer(h: &History, ranges: &[SeqRange]) -> (Vec<u64>, Unanswered) {
        let mut got = Vec::new();
        let un = h.answer(ranges, |seq, b| {
            assert_eq!(b, &Bytes::from(seq.to_string()));
            got.push(seq);
        });
        (got, un)
    }

    #[test]
    fn resends_the_same_bytes_in_order() {
        let h = history(8, 5);
        let (got, un) = answer(&h, &[r(2, 3), r(5, 5)]);
        assert_eq!(got, vec![2, 3, 5]);
        assert!(un.is_empty());
    }

    #[test]
    fn splits_expired_held_and_unsent() {
        let h = history(4, 10); // holds 7..=10
        let (got, un) = answer(&h, &[r(3, 12)]);
        assert_eq!(got, vec![7, 8, 9, 10]);
        assert_eq!(un.expired, vec![r(3, 6)]);
        assert_eq!(un.expired_count(), 4);
        assert_eq!(un.unsent, vec![r(11, 12)]);
    }

    #[test]
    fn a_huge_range_resends_at_most_the_history() {
        let h = history(4, 10);
        let (got, un) = answer(&h, &[r(1, u64::MAX)]);
        assert_eq!(got.len(), 4);
        assert_eq!(un.expired, vec![r(1, 6)]);
        assert_eq!(un.unsent, vec![r(11, u64::MAX)]);
    }

    #[test]
    fn an_empty_history_has_sent_nothing() {
        let h = History::new(4);
        let (got, un) = answer(&h, &[r(1, 2)]);
        assert!(got.is_empty());
        assert_eq!(un.unsent, vec![r(1, 2)]);
        assert!(un.expired.is_empty());
    }
}
