//! What a finished replay carried, per connection. A message can reach the
//! store before it is shown live: a store shared between nodes shows only
//! after the commit, and a log's first message after a start waits for a
//! seq reservation that may commit together with it. A replay that reads
//! the store in that window carries the message, and its live frame comes
//! after the replay has ended and let go of the frames it held. Both kinds,
//! frames held behind the replay (at its release) and frames shown after
//! it, are judged here, so no seq reaches a connection twice.

use crate::fasthash::FastMap;
use crate::shard::ConnRef;
use crate::store::LogKey;

/// Per connection, each log's seq up to which a replay carried it, until
/// live frames of that log pass it (a log's live frames come in seq order).
#[derive(Default)]
pub struct Carried {
    by_key: FastMap<u32, (ConnRef, Vec<(LogKey, u64)>)>,
}

impl Carried {
    /// Records that a replay to `to` carried each log up to its seq (a seq
    /// of 0 carried nothing and is not kept).
    pub fn record(&mut self, to: ConnRef, logs: impl IntoIterator<Item = (LogKey, u64)>) {
        let logs: Vec<_> = logs.into_iter().filter(|&(_, seq)| seq > 0).collect();
        if logs.is_empty() {
            return;
        }
        let entry = self.by_key.entry(to.key).or_insert((to, Vec::new()));
        if entry.0 != to {
            // The slot belonged to an earlier connection.
            *entry = (to, Vec::new());
        }
        for (log, seq) in logs {
            match entry.1.iter_mut().find(|(l, _)| *l == log) {
                Some((_, s)) => *s = (*s).max(seq),
                None => entry.1.push((log, seq)),
            }
        }
    }

    /// Whether live frame `seq` of `log` for connection `key` was carried
    /// already; a later seq ends the watch on that log.
    pub fn already(&mut self, key: u32, log: LogKey, seq: u64) -> bool {
        let Some((_, logs)) = self.by_key.get_mut(&key) else {
            return false;
        };
        let Some(at) = logs.iter().position(|(l, _)| *l == log) else {
            return false;
        };
        if seq <= logs[at].1 {
            return true;
        }
        logs.swap_remove(at);
        if logs.is_empty() {
            self.by_key.remove(&key);
        }
        false
    }

    /// Forgets `to` (it closed).
    pub fn forget(&mut self, to: ConnRef) {
        if self.by_key.get(&to.key).is_some_and(|(c, _)| *c == to) {
            self.by_key.remove(&to.key);
        }
    }

    /// Whether nothing is watched (the common case, checked first).
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(key: u32, id: u32) -> ConnRef {
        ConnRef { core: 0, key, id }
    }

    #[test]
    fn a_carried_seq_is_dropped_until_the_log_moves_past_it() {
        let mut c = Carried::default();
        let (inbox, group) = (LogKey::Inbox(7), LogKey::Group(3));
        c.record(conn(1, 1), [(inbox, 5), (group, 2), (LogKey::Group(4), 0)]);
        assert!(c.already(1, inbox, 4));
        assert!(c.already(1, inbox, 5));
        assert!(!c.already(1, inbox, 6), "a new seq goes through");
        assert!(!c.already(1, inbox, 5), "and ends the watch on its log");
        assert!(c.already(1, group, 2));
        assert!(
            !c.already(1, LogKey::Group(4), 1),
            "nothing carried, nothing kept"
        );
        assert!(!c.already(2, group, 1), "another connection is not watched");
        assert!(!c.already(1, group, 3));
        assert!(c.is_empty());
    }

    #[test]
    fn a_closed_connection_is_forgotten_and_its_slot_starts_afresh() {
        let mut c = Carried::default();
        c.record(conn(1, 1), [(LogKey::Inbox(7), 5)]);
        c.forget(conn(1, 2));
        assert!(
            !c.is_empty(),
            "a later connection in the slot is not the one recorded"
        );
        c.record(conn(1, 2), [(LogKey::Inbox(8), 3)]);
        assert!(
            !c.already(1, LogKey::Inbox(7), 5),
            "the earlier connection's watch is gone"
        );
        assert!(c.already(1, LogKey::Inbox(8), 3));
        c.forget(conn(1, 2));
        assert!(c.is_empty());
    }
}
