//! The end-of-run join of what was sent with what was received.

use serde::{Deserialize, Serialize};

use super::streams::{RxTable, TxTable};
use crate::proto::Dst;

/// Totals of a run, every delivery accounted for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reckoning {
    /// Deliveries that should have happened: for each accepted message, one
    /// per recipient.
    pub expected: u64,
    /// Distinct expected deliveries that happened.
    pub delivered: u64,
    /// Expected deliveries that never happened.
    pub lost: u64,
    /// Copies of a message a receiver already had.
    pub duplicated: u64,
    /// Messages that reached a receiver after a later one of the same
    /// stream, on the live stream.
    pub reordered: u64,
    /// Messages a sync brought after a later one had arrived live.
    pub late_by_sync: u64,
    /// Deliveries of messages whose sender never learned their fate.
    pub unresolved_delivered: u64,
    /// Deliveries of messages the server said it refused.
    pub rejected_delivered: u64,
    /// Deliveries to a user who was not a recipient of that stream, or of
    /// sequences never sent.
    pub unexpected: u64,
    /// (sender, receiver, destination) pairs with at least one expected delivery.
    pub pairs: u64,
    /// Pairs that lost at least one message.
    pub pairs_with_loss: u64,
    /// Pairs that saw at least one reordering.
    pub pairs_reordered: u64,
    /// Pairs that saw at least one duplicate.
    pub pairs_duplicated: u64,
}

/// Joins the tables. `recipients(sender, dst)` lists the users a message of
/// that stream must reach (for a group: its members but the sender).
pub fn reckon<F, I>(tx: &TxTable, rx: &RxTable, mut recipients: F) -> Reckoning
where
    F: FnMut(i64, Dst) -> I,
    I: IntoIterator<Item = i64>,
{
    let mut r = Reckoning::default();
    // Receipts matched to an expected (stream, receiver) and within the
    // stream's sent range; everything else a receiver got is unexpected.
    let mut matched = 0u64;
    for (&(sender, dst), t) in tx {
        let sent = u64::from(t.sent);
        let excluded = (t.rejected.len() + t.unresolved.len()) as u64;
        let accepted = sent.saturating_sub(excluded);
        for receiver in recipients(sender, dst) {
            r.pairs += u64::from(accepted > 0);
            r.expected += accepted;
            let Some(got) = rx.get(&(receiver, sender, dst)) else {
                r.lost += accepted;
                r.pairs_with_loss += u64::from(accepted > 0);
                continue;
            };
            let in_range = got.got.len_upto(sent);
            matched += in_range;
            let unresolved = count_in(&t.unresolved, &got.got);
            let rejected = count_in(&t.rejected, &got.got);
            let delivered = in_range - unresolved - rejected;
            r.delivered += delivered;
            r.lost += accepted - delivered;
            r.unresolved_delivered += unresolved;
            r.rejected_delivered += rejected;
            r.duplicated += u64::from(got.dups);
            r.reordered += u64::from(got.late);
            r.late_by_sync += u64::from(got.late_by_sync);
            r.pairs_with_loss += u64::from(accepted > delivered);
            r.pairs_reordered += u64::from(got.late > 0);
            r.pairs_duplicated += u64::from(got.dups > 0);
        }
    }
    let received: u64 = rx.values().map(|s| s.got.len()).sum();
    r.unexpected = received - matched;
    r
}

fn count_in(seqs: &[u32], got: &super::SeqSet) -> u64 {
    seqs.iter().filter(|&&s| got.contains(u64::from(s))).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{RxStream, TxStream};

    /// (stream, sent, rejected, unresolved)
    type Sent<'a> = ((i64, Dst), u32, &'a [u32], &'a [u32]);

    fn tx(entries: &[Sent<'_>]) -> TxTable {
        entries
            .iter()
            .map(|&(k, sent, rej, unres)| {
                (
                    k,
                    TxStream {
                        sent,
                        rejected: rej.to_vec(),
                        unresolved: unres.to_vec(),
                    },
                )
            })
            .collect()
    }

    fn rx_stream(arrivals: &[u32]) -> RxStream {
        let mut s = RxStream::default();
        for &a in arrivals {
            s.record(a, false);
        }
        s
    }

    fn single(_: i64, dst: Dst) -> Vec<i64> {
        match dst {
            Dst::User(u) => vec![u],
            Dst::Group(_) => vec![],
        }
    }

    #[test]
    fn a_clean_stream_loses_nothing() {
        let t = tx(&[((1, Dst::User(2)), 5, &[], &[])]);
        let mut rx = RxTable::new();
        rx.insert((2, 1, Dst::User(2)), rx_stream(&[1, 2, 3, 4, 5]));
        let r = reckon(&t, &rx, single);
        assert_eq!((r.expected, r.delivered, r.lost), (5, 5, 0));
        assert_eq!((r.duplicated, r.reordered, r.unexpected), (0, 0, 0));
        assert_eq!((r.pairs, r.pairs_with_loss), (1, 0));
    }

    #[test]
    fn loss_duplicates_and_reorders_are_told_apart() {
        // Sent 1..=6; 3 lost, 5 arrived before 4, 2 arrived twice.
        let t = tx(&[((1, Dst::User(2)), 6, &[], &[])]);
        let mut rx = RxTable::new();
        rx.insert((2, 1, Dst::User(2)), rx_stream(&[1, 2, 2, 5, 4, 6]));
        let r = reckon(&t, &rx, single);
        assert_eq!((r.expected, r.delivered, r.lost), (6, 5, 1));
        assert_eq!((r.duplicated, r.reordered), (1, 1));
        assert_eq!(
            (r.pairs_with_loss, r.pairs_duplicated, r.pairs_reordered),
            (1, 1, 1)
        );
    }

    #[test]
    fn a_lost_tail_and_a_silent_receiver_are_lost() {
        let t = tx(&[
            ((1, Dst::User(2)), 4, &[], &[]),
            ((3, Dst::User(4)), 2, &[], &[]),
        ]);
        let mut rx = RxTable::new();
        rx.insert((2, 1, Dst::User(2)), rx_stream(&[1, 2]));
        let r = reckon(&t, &rx, single);
        assert_eq!((r.expected, r.delivered, r.lost), (6, 2, 4));
        assert_eq!(r.pairs_with_loss, 2);
    }

    #[test]
    fn refused_and_unresolved_messages_are_not_expected() {
        // 2 was refused (429), 4 unresolved (sender dropped) but delivered,
        // 5 unresolved and never delivered: nothing lost.
        let t = tx(&[((1, Dst::User(2)), 5, &[2], &[4, 5])]);
        let mut rx = RxTable::new();
        rx.insert((2, 1, Dst::User(2)), rx_stream(&[1, 3, 4]));
        let r = reckon(&t, &rx, single);
        assert_eq!((r.expected, r.delivered, r.lost), (2, 2, 0));
        assert_eq!((r.unresolved_delivered, r.rejected_delivered), (1, 0));
        // The gap at 2 is not a reordering: 3 came after 1.
        assert_eq!(r.reordered, 0);
    }

    #[test]
    fn gaps_filled_by_a_sync_are_not_reorderings() {
        // 3 and 4 were sent while the receiver was away; 5 arrived live on
        // its new connection before the sync replayed 3 and 4.
        let t = tx(&[((1, Dst::User(2)), 5, &[], &[])]);
        let mut s = rx_stream(&[1, 2, 5]);
        s.record(3, true);
        s.record(4, true);
        let mut rx = RxTable::new();
        rx.insert((2, 1, Dst::User(2)), s);
        let r = reckon(&t, &rx, single);
        assert_eq!(
            (r.delivered, r.lost, r.reordered, r.late_by_sync),
            (5, 0, 0, 2)
        );
    }

    #[test]
    fn room_streams_reach_every_member_but_the_sender() {
        let members = [10, 11, 12];
        let room = |sender: i64, dst: Dst| -> Vec<i64> {
            match dst {
                Dst::Group(_) => members.iter().copied().filter(|&m| m != sender).collect(),
                Dst::User(u) => vec![u],
            }
        };
        let t = tx(&[((10, Dst::Group(1)), 3, &[], &[])]);
        let mut rx = RxTable::new();
        rx.insert((11, 10, Dst::Group(1)), rx_stream(&[1, 2, 3]));
        rx.insert((12, 10, Dst::Group(1)), rx_stream(&[1, 3]));
        // A delivery to a non-member and one of a sequence never sent.
        rx.insert((13, 10, Dst::Group(1)), rx_stream(&[1]));
        rx.insert((11, 12, Dst::Group(1)), rx_stream(&[1]));
        let r = reckon(&t, &rx, room);
        assert_eq!((r.expected, r.delivered, r.lost), (6, 5, 1));
        assert_eq!(r.unexpected, 2);
        assert_eq!(r.pairs, 2);
    }
}
