//! The plan of one replay (a cmd 30 or the offline push), sans-IO: which
//! page of which log to read next, and what cmd 31 reports once done.
//!
//! Logs are replayed one after another, a page at a time. A page is at most
//! [`MAX_PAGE`] messages and, by the sizes seen so far, about `page_bytes`,
//! so a replay of large messages holds little in memory. A log is done when
//! a page comes back short or reaches the log's end as read when its replay
//! began (later messages reach the client live); cmd 31 then reports, per
//! log, the seq the replay went through: the furthest of the last message
//! replayed and that end.

use crate::store::{LogKey, Stored};

/// Most messages in one page.
pub const MAX_PAGE: usize = 256;

/// Messages asked for in a log's first page, before any size is known.
const FIRST_PAGE: usize = 16;

/// One read to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    /// The log.
    pub log: LogKey,
    /// Read messages with seq greater than this.
    pub after: u64,
    /// At most this many.
    pub limit: usize,
    /// Also read the log's last seq (the first page of a log).
    pub want_end: bool,
}

/// One log's progress.
#[derive(Debug)]
struct LogState {
    log: LogKey,
    /// The client's position: the seq after which it asked.
    asked_after: u64,
    /// The last seq replayed (or the position asked from).
    pos: u64,
    /// The last seq actually replayed, if any.
    last: Option<u64>,
    /// The log's last seq when its replay began.
    end: Option<u64>,
    done: bool,
}

impl LogState {
    /// What cmd 31 reports: the log's latest seq (its end when the replay
    /// began, or the last message replayed if later), never the client's
    /// own claim.
    fn through(&self) -> u64 {
        self.last
            .unwrap_or(0)
            .max(self.end.unwrap_or(self.asked_after.min(self.pos)))
    }

    /// See [`Pager::replayed`].
    fn replayed(&self) -> u64 {
        let within = self.end.map_or(0, |e| e.min(self.asked_after));
        self.last.unwrap_or(0).max(within)
    }
}

/// A replay's progress over its logs.
#[derive(Debug)]
pub struct Pager {
    logs: Vec<LogState>,
    /// Index of the log being replayed.
    at: usize,
    page_bytes: usize,
    /// Messages asked for in the next page.
    limit: usize,
    truncated: bool,
}

impl Pager {
    /// A replay of `logs`, each after the seq the client has, in order,
    /// in pages of about `page_bytes`.
    pub fn new(logs: impl IntoIterator<Item = (LogKey, u64)>, page_bytes: usize) -> Pager {
        Pager {
            logs: logs
                .into_iter()
                .map(|(log, after)| LogState {
                    log,
                    asked_after: after,
                    pos: after,
                    last: None,
                    end: None,
                    done: false,
                })
                .collect(),
            at: 0,
            page_bytes: page_bytes.max(1),
            limit: FIRST_PAGE,
            truncated: false,
        }
    }

    /// The next read, or `None` once every log is done.
    pub fn next(&self) -> Option<Ask> {
        let s = self.logs.get(self.at)?;
        Some(Ask {
            log: s.log,
            after: s.pos,
            limit: self.limit,
            want_end: s.end.is_none(),
        })
    }

    /// Takes the answer to [`Pager::next`]: the log's end (when asked), the
    /// page read, and, when that first page leaves seqs missing after the
    /// client's position, the oldest seq the log still holds (`None`: it
    /// holds none). The caller replays `page` as it is.
    pub fn page(&mut self, end: Option<u64>, page: &[Stored], oldest: Option<u64>) {
        let limit = self.limit;
        let Some(s) = self.logs.get_mut(self.at) else {
            return;
        };
        if s.end.is_none() {
            let end = end.unwrap_or(s.pos);
            s.end = Some(end);
            // Retention dropped messages the client asked for: the first one
            // kept is past the next it needs (or none is kept at all). Seqs
            // missing in the middle of the log, above messages still kept, are
            // a crash's skipped reservation, never stored: not a truncation.
            let next = s.asked_after + 1;
            if end > s.asked_after
                && page.first().is_none_or(|m| m.seq > next)
                && oldest.is_none_or(|o| o > next)
            {
                self.truncated = true;
            }
        }
        if let Some(last) = page.last() {
            s.pos = s.pos.max(last.seq);
            s.last = Some(s.pos);
        }
        let bytes: usize = page.iter().map(|m| m.frame.len()).sum();
        if !page.is_empty() {
            let per = (bytes / page.len()).max(1);
            self.limit = (self.page_bytes / per).clamp(1, MAX_PAGE);
        }
        if page.len() < limit || s.end.is_some_and(|e| s.pos >= e) {
            s.done = true;
            self.at += 1;
            self.limit = FIRST_PAGE;
        }
    }

    /// Whether every log is done.
    #[cfg(test)]
    pub fn finished(&self) -> bool {
        self.at >= self.logs.len()
    }

    /// The seq `log`'s replay went through (what cmd 31 reports for it), if
    /// the replay covered it.
    #[cfg(test)]
    pub fn through(&self, log: LogKey) -> Option<u64> {
        self.logs
            .iter()
            .find(|s| s.log == log)
            .map(LogState::through)
    }

    /// Each log with the seq up to which live frames are already with the
    /// client: the last one replayed, or its own position where that is
    /// within the log (a client claiming more than the log holds, such as a
    /// probe with `i64::MAX`, still gets every later live frame).
    pub fn replayed(&self) -> impl Iterator<Item = (LogKey, u64)> + '_ {
        self.logs.iter().map(|s| (s.log, s.replayed()))
    }

    /// Each log with the seq its replay went through, in the order given.
    pub fn summary(&self) -> impl Iterator<Item = (LogKey, u64)> + '_ {
        self.logs.iter().map(|s| (s.log, s.through()))
    }

    /// Whether retention had dropped messages the client asked for.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn replayed(p: &Pager, log: LogKey) -> Option<u64> {
        p.replayed().find(|(l, _)| *l == log).map(|(_, seq)| seq)
    }

    fn msgs(seqs: std::ops::RangeInclusive<u64>, size: usize) -> Vec<Stored> {
        seqs.map(|seq| Stored {
            seq,
            frame: Bytes::from(vec![0; size]),
        })
        .collect()
    }

    /// Replays `logs` against a fake log holding seqs `from..=to` of `size`
    /// bytes each; returns every seq handed out, in order.
    fn drive(p: &mut Pager, stored: &dyn Fn(LogKey) -> (u64, u64, usize)) -> Vec<(LogKey, u64)> {
        let mut out = Vec::new();
        let mut reads = 0;
        while let Some(ask) = p.next() {
            reads += 1;
            assert!(reads < 10_000, "the pager must progress");
            let (from, to, size) = stored(ask.log);
            let first = (ask.after + 1).max(from);
            let last = to.min(first + ask.limit as u64 - 1);
            let page = if first <= last {
                msgs(first..=last, size)
            } else {
                Vec::new()
            };
            assert!(page.len() <= ask.limit);
            out.extend(page.iter().map(|m| (ask.log, m.seq)));
            let oldest = (from <= to).then_some(from);
            p.page(ask.want_end.then_some(to), &page, oldest);
        }
        out
    }

    #[test]
    fn a_long_log_is_replayed_whole_in_bounded_pages() {
        let mut p = Pager::new([(LogKey::Inbox(1), 0)], 256 * 1024);
        let got = drive(&mut p, &|_| (1, 25_000, 100));
        assert_eq!(got.len(), 25_000);
        assert!(got.iter().enumerate().all(|(i, (_, s))| *s == i as u64 + 1));
        assert!(p.finished());
        assert_eq!(p.through(LogKey::Inbox(1)), Some(25_000));
        assert!(!p.truncated());
    }

    #[test]
    fn large_messages_make_small_pages() {
        let mut p = Pager::new([(LogKey::Inbox(1), 0)], 256 * 1024);
        assert_eq!(p.next().unwrap().limit, FIRST_PAGE);
        p.page(Some(80), &msgs(1..=16, 60_000), None);
        assert_eq!(p.next().unwrap().limit, 4, "about 256 KiB of 60 KB frames");
        assert_eq!(p.next().unwrap().after, 16);
    }

    #[test]
    fn a_client_claiming_more_than_the_log_holds_is_told_the_latest() {
        let mut p = Pager::new([(LogKey::Inbox(1), i64::MAX as u64)], 1 << 20);
        let ask = p.next().unwrap();
        assert_eq!(ask.after, i64::MAX as u64);
        p.page(Some(3), &[], None);
        assert!(p.finished());
        assert_eq!(
            p.through(LogKey::Inbox(1)),
            Some(3),
            "the latest, not the claim"
        );
        assert_eq!(
            replayed(&p, LogKey::Inbox(1)),
            Some(3),
            "live frames after 3 still go out"
        );
    }

    #[test]
    fn logs_follow_one_another_and_report_where_they_went_through() {
        let (a, g) = (LogKey::Inbox(1), LogKey::Group(9));
        let mut p = Pager::new([(a, 3), (g, 0)], 1 << 20);
        let got = drive(&mut p, &|log| {
            if log == a {
                (1, 5, 10)
            } else {
                (1, 2, 10)
            }
        });
        assert_eq!(got, vec![(a, 4), (a, 5), (g, 1), (g, 2)]);
        assert_eq!(p.summary().collect::<Vec<_>>(), vec![(a, 5), (g, 2)]);
    }

    #[test]
    fn a_client_at_the_end_reads_one_empty_page() {
        let mut p = Pager::new([(LogKey::Inbox(1), 7)], 1 << 20);
        let got = drive(&mut p, &|_| (1, 7, 10));
        assert!(got.is_empty());
        assert_eq!(p.through(LogKey::Inbox(1)), Some(7));
        assert!(!p.truncated());
    }

    #[test]
    fn retention_gaps_are_reported_as_truncated() {
        let mut p = Pager::new([(LogKey::Group(2), 1)], 1 << 20);
        let got = drive(&mut p, &|_| (50, 60, 10));
        assert_eq!(got.first(), Some(&(LogKey::Group(2), 50)));
        assert!(p.truncated());
        assert_eq!(p.through(LogKey::Group(2)), Some(60));
    }

    #[test]
    fn a_crash_gap_above_kept_messages_is_not_a_truncation() {
        // Seqs 1..=10 stored, 11..=1034 skipped by a crash, 1035.. stored.
        let mut p = Pager::new([(LogKey::Inbox(1), 10)], 1 << 20);
        p.page(Some(1036), &msgs(1035..=1036, 10), Some(1));
        assert!(
            !p.truncated(),
            "nothing the client asked for was ever stored"
        );
        let mut q = Pager::new([(LogKey::Inbox(1), 10)], 1 << 20);
        q.page(Some(1036), &msgs(1035..=1036, 10), Some(1035));
        assert!(
            q.truncated(),
            "retention dropped 11..=1034 (or some of them)"
        );
    }

    #[test]
    fn messages_appended_during_the_replay_end_it_at_the_first_end() {
        let mut p = Pager::new([(LogKey::Inbox(1), 0)], 1 << 20);
        p.page(Some(16), &msgs(1..=16, 10), None);
        assert!(p.finished(), "the end read at the start is reached");
        assert_eq!(p.through(LogKey::Inbox(1)), Some(16));
    }

    #[test]
    fn an_end_above_what_is_stored_is_still_reported() {
        // Appends queued but not committed yet count in the log's end.
        let mut p = Pager::new([(LogKey::Inbox(1), 0)], 1 << 20);
        p.page(Some(10), &msgs(1..=8, 10), None);
        assert!(p.finished());
        assert_eq!(p.through(LogKey::Inbox(1)), Some(10));
        assert_eq!(
            replayed(&p, LogKey::Inbox(1)),
            Some(8),
            "9 and 10 may come live"
        );
    }
}
