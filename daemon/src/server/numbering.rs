//! Sequence numbering on the core that owns a log, and the rule that keeps a
//! crash from reusing a seq a client has seen.
//!
//! Live delivery does not wait for a message's commit, so a client may see
//! seq N before N is stored. Were the process to die then, the next start
//! would hand N to another message and a client that drops seqs it already
//! has would drop that one, acknowledged. So a core shows a seq live only
//! once the store holds a durable *reservation* covering it; reservations
//! are taken [`AHEAD`] seqs at a time, asked for when half of the previous
//! one is used, so under steady traffic nothing waits. A log's first message
//! after a start waits for one commit (as its ack does); frames numbered
//! past the reservation wait in order in [`Numbering::held`]. After a crash
//! the log's numbering resumes above its last reservation: the cost is a gap
//! of under [`AHEAD`] seqs, which a syncing client skips (cmd 31 reports the
//! new base), never a reused seq. An orderly stop releases the reservations.
//!
//! A store shared between nodes (Redis) takes the other side of the trade:
//! it shows a message only once it is stored (see
//! [`crate::store::Store::shows_after_commit`]), so no reservation is needed
//! and a node that takes over a dead node's logs continues at the last
//! stored seq, with no gap; live delivery costs one Redis round trip.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::shard::ConnRef;

/// Seqs reserved per request; also the largest gap a crash leaves in a log.
pub const AHEAD: u64 = 1024;

/// A numbered frame to show once its seq is covered by a reservation.
pub enum Show {
    /// A single message, to every connection of `uid` on this core.
    User {
        /// The recipient.
        uid: i64,
        /// Its frame.
        frame: Bytes,
    },
    /// A room message, to the members of `gid` online on every core.
    Room {
        /// The group.
        gid: i64,
        /// Its frame, shared by every recipient.
        frame: Bytes,
        /// The sending connection, which does not get its own message.
        except: ConnRef,
        /// The node that forwarded the message, which shows it to its own
        /// members itself (see [`crate::server::forward::answer`]).
        skip: Option<crate::cluster::wire::NodeId>,
    },
}

/// One log's numbering state on its owning core.
pub struct Numbering {
    /// The last seq taken.
    pub last: u64,
    /// Seqs up to this one may be shown: stored or durably reserved.
    pub shown_upto: u64,
    /// The highest reservation asked for, durable or not.
    pub asked: u64,
    /// Frames numbered above `shown_upto`, in seq order.
    pub held: VecDeque<(u64, Show)>,
}

impl Numbering {
    /// A log whose last taken seq the store reports as `last` (stored or
    /// reserved before a crash: either way already safe to have shown).
    pub fn new(last: u64) -> Numbering {
        Numbering {
            last,
            shown_upto: last,
            asked: last,
            held: VecDeque::new(),
        }
    }

    /// The reservation to ask for before taking `seq`, if one is due.
    pub fn due(&self, seq: u64) -> Option<u64> {
        (seq + AHEAD / 2 > self.asked).then_some(seq + AHEAD)
    }

    /// `seq`'s frame to show now, or `None` if it waits for its reservation.
    pub fn admit(&mut self, seq: u64, show: Show) -> Option<Show> {
        if seq <= self.shown_upto && self.held.is_empty() {
            return Some(show);
        }
        self.held.push_back((seq, show));
        None
    }

    /// Records a durable reservation up to `upto`; the held frames it covers, in order.
    pub fn reserved(&mut self, upto: u64) -> Vec<(u64, Show)> {
        self.shown_upto = self.shown_upto.max(upto);
        let mut ready = Vec::new();
        while self
            .held
            .front()
            .is_some_and(|(s, _)| *s <= self.shown_upto)
        {
            ready.extend(self.held.pop_front());
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u8) -> Show {
        Show::User {
            uid: 1,
            frame: Bytes::from(vec![n]),
        }
    }

    fn frame_of(s: &Show) -> u8 {
        match s {
            Show::User { frame, .. } | Show::Room { frame, .. } => frame[0],
        }
    }

    #[test]
    fn a_fresh_log_holds_until_its_first_reservation() {
        let mut n = Numbering::new(10);
        assert_eq!(n.due(11), Some(11 + AHEAD));
        n.asked = 11 + AHEAD;
        assert!(n.admit(11, user(11)).is_none());
        assert!(n.admit(12, user(12)).is_none());
        let ready = n.reserved(11 + AHEAD);
        assert_eq!(
            ready
                .iter()
                .map(|(s, f)| (*s, frame_of(f)))
                .collect::<Vec<_>>(),
            vec![(11, 11), (12, 12)]
        );
        assert!(
            n.admit(13, user(13)).is_some(),
            "covered now: shown at once"
        );
    }

    #[test]
    fn the_next_reservation_is_asked_at_half_way() {
        let mut n = Numbering::new(0);
        n.asked = AHEAD;
        n.shown_upto = AHEAD;
        assert_eq!(n.due(AHEAD / 2), None);
        assert_eq!(n.due(AHEAD / 2 + 1), Some(AHEAD / 2 + 1 + AHEAD));
    }

    #[test]
    fn frames_stay_in_order_behind_a_held_one() {
        let mut n = Numbering::new(0);
        n.shown_upto = 5;
        assert!(n.admit(6, user(6)).is_none());
        // Even a covered seq may not overtake a held one.
        n.shown_upto = 7;
        assert!(n.admit(7, user(7)).is_none());
        let ready = n.reserved(6);
        assert_eq!(
            ready.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![6, 7]
        );
    }

    #[test]
    fn a_reservation_short_of_the_held_frames_releases_only_what_it_covers() {
        let mut n = Numbering::new(0);
        for s in 1..=4 {
            assert!(n.admit(s, user(s as u8)).is_none());
        }
        assert_eq!(n.reserved(2).len(), 2);
        assert_eq!(n.held.len(), 2);
        assert_eq!(n.reserved(4).len(), 2);
    }
}
