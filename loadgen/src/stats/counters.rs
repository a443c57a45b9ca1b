//! Event counts of one core, of one process, or of a whole run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything the loadgen counts. Field names are part of the JSON report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Connections attempted (first connects and reconnects).
    pub connect_attempts: u64,
    /// Upgrades answered with 101 (first connects and reconnects).
    pub connected: u64,
    /// Of `connected`, reconnections after a drop.
    pub reconnected: u64,
    /// Connections that failed before the upgrade completed.
    pub connect_failed: u64,
    /// Failures by reason (`refused`, `timeout`, `http 503`, ...).
    pub connect_failures: BTreeMap<String, u64>,
    /// Messages sent (cmd 10 and 11).
    pub sent: u64,
    /// Acks received (cmd 20).
    pub acked: u64,
    /// Messages refused with cmd 21.
    pub rejected: u64,
    /// Messages whose sender's connection closed before an answer.
    pub unresolved: u64,
    /// Deliveries expected so far, as the senders see it (one per recipient
    /// of each accepted message); the final figure is the reckoning's.
    pub expected: u64,
    /// Every delivered frame that carried a loadgen stamp.
    pub delivered_frames: u64,
    /// Deliveries that were new to their receiver.
    pub delivered_unique: u64,
    /// Copies of messages already received (same stream and sequence).
    pub duplicated: u64,
    /// Of `delivered_unique`, those whose sender's owner node (by the ring,
    /// `--ring`) differs from the receiver's; a room message counts once
    /// per such receiver.
    pub cross_node: u64,
    /// Messages that arrived after a later one of the same stream.
    pub reordered: u64,
    /// cmd 10/11 frames without a loadgen stamp.
    pub foreign: u64,
    /// Frames stamped by another run (stored earlier, pushed or replayed).
    pub stale: u64,
    /// Other unrecognised text frames.
    pub other_frames: u64,
    /// A user's own messages handed back to it (sync replays of a group).
    pub self_echoes: u64,
    /// Frames with a server seq the user already had (sync overlap; harmless).
    pub resync_duplicates: u64,
    /// Jumps in a server seq on a live connection (the server skipped or lost one).
    pub seq_gaps: u64,
    /// Error frames (cmd 21) by code.
    pub errors: BTreeMap<u16, u64>,
    /// Server-initiated closes by code (1006: dropped without a close frame).
    pub closes: BTreeMap<u16, u64>,
    /// WebSocket protocol violations by the server.
    pub protocol_errors: u64,
    /// Pings answered.
    pub pings: u64,
    /// cmd 31 with id 0 (end of the offline push at connect).
    pub offline_markers: u64,
    /// Storm: connections dropped on purpose.
    pub storm_dropped: u64,
    /// Storm: dropped users connected again and synced (cmd 31 received).
    pub storm_synced: u64,
    /// Storm: server sequences the dropped users had not seen.
    pub missed: u64,
    /// Storm: of those, the ones received by the end of the sync.
    pub recovered: u64,
    /// Rate mode: sends the loadgen could not make on time (it was the bottleneck).
    pub behind: u64,
    /// Peer max mode: window slots freed by timeout (a delivery never came).
    pub window_timeouts: u64,
}

fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

impl Counters {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Counters) {
        macro_rules! sum {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        sum!(
            connect_attempts,
            connected,
            reconnected,
            connect_failed,
            sent,
            acked,
            rejected,
            unresolved,
            expected,
            delivered_frames,
            delivered_unique,
            cross_node,
            duplicated,
            reordered,
            foreign,
            other_frames,
            stale,
            self_echoes,
            resync_duplicates,
            seq_gaps,
            protocol_errors,
            pings,
            offline_markers,
            storm_dropped,
            storm_synced,
            missed,
            recovered,
            behind,
            window_timeouts
        );
        add_map(&mut self.connect_failures, &o.connect_failures);
        add_map(&mut self.errors, &o.errors);
        add_map(&mut self.closes, &o.closes);
    }

    /// Counts one failed connection attempt.
    pub fn connect_failure(&mut self, reason: &str) {
        self.connect_failed += 1;
        match self.connect_failures.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                self.connect_failures.insert(reason.to_owned(), 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_every_field_and_map() {
        let mut a = Counters {
            sent: 2,
            ..Counters::default()
        };
        a.errors.insert(429, 1);
        let mut b = Counters {
            sent: 3,
            window_timeouts: 1,
            cross_node: 4,
            ..Counters::default()
        };
        b.errors.insert(429, 2);
        b.connect_failure("refused");
        a.merge(&b);
        assert_eq!((a.sent, a.window_timeouts, a.connect_failed), (5, 1, 1));
        assert_eq!(a.cross_node, 4);
        assert_eq!(a.errors[&429], 3);
        assert_eq!(a.connect_failures["refused"], 1);
    }
}
