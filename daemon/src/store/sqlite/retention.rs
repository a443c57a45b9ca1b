//! Retention by count with slack: a log may hold up to `retain + retain / 8`
//! messages on disk, and is trimmed back to `retain` only when it passes
//! that. One range delete per log every `retain / 8` appends, instead of one
//! per log per commit, which dirtied the log's oldest page on every commit
//! (measured: half the store thread's WAL writes). Reads hide the slack, so
//! a log still reads as its newest `retain` messages.

/// Messages a log may hold beyond `retain` before it is trimmed.
pub fn slack(retain: u64) -> u64 {
    retain / 8
}

/// The seq to delete up to (inclusive) when a log whose oldest stored
/// message is at most `oldest` has reached `last`; `None` while the log is
/// within its bound. After the delete the oldest stored seq is the
/// returned seq plus one.
pub fn trim_upto(oldest: u64, last: u64, retain: u64) -> Option<u64> {
    let held = (last + 1).saturating_sub(oldest);
    (held > retain + slack(retain)).then(|| last - retain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_trimmed_to_retain_only_past_the_slack() {
        let retain = 1000;
        assert_eq!(trim_upto(1, 1125, retain), None, "1125 held: within bound");
        assert_eq!(
            trim_upto(1, 1126, retain),
            Some(126),
            "1126 held: trim to 1000"
        );
        assert_eq!(trim_upto(127, 1251, retain), None, "1125 held again");
        assert_eq!(trim_upto(127, 1252, retain), Some(252));
    }

    #[test]
    fn small_bounds_have_no_slack() {
        assert_eq!(trim_upto(1, 3, 3), None);
        assert_eq!(trim_upto(1, 4, 3), Some(1));
        assert_eq!(trim_upto(2, 5, 3), Some(2));
        assert_eq!(trim_upto(1, 1, 1), None);
        assert_eq!(trim_upto(1, 2, 1), Some(1));
    }

    #[test]
    fn an_empty_or_unknown_start_is_safe() {
        // A log emptied by age retention reports its next seq as oldest.
        assert_eq!(trim_upto(11, 10, 5), None);
        // An oldest below the truth only trims early, never past retain.
        assert_eq!(trim_upto(0, 10, 5), Some(5));
    }
}
