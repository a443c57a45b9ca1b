//! What the per-core sweeper does with one connection, given the time.
//!
//! One coarse tick per core scans every connection instead of arming a
//! timer per connection (a monoio `Sleep` alone is 640 bytes).

/// A connection's timing state, in milliseconds of the core's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Liveness {
    /// When anything last arrived from the peer.
    pub last_activity_ms: u64,
    /// When the server last sent a ping.
    pub last_ping_ms: u64,
    /// When a server-initiated close was sent, if one was.
    pub closing_since_ms: Option<u64>,
}

/// The sweeper's decision for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Keep,
    /// Send a ping (the peer has been quiet for a ping interval).
    Ping,
    /// Close: nothing arrived for the idle timeout.
    IdleTimeout,
    /// Drop the socket: the peer never answered our close.
    CloseTimeout,
}

/// How long a peer may take to answer a close before the socket is dropped.
pub const CLOSE_GRACE_MS: u64 = 2_000;

impl Liveness {
    /// Fresh state for a connection opened at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            last_activity_ms: now_ms,
            last_ping_ms: now_ms,
            closing_since_ms: None,
        }
    }

    /// Decides what a tick at `now_ms` does to this connection.
    pub fn judge(&self, now_ms: u64, ping_interval_ms: u64, idle_timeout_ms: u64) -> Verdict {
        if let Some(since) = self.closing_since_ms {
            return if now_ms.saturating_sub(since) >= CLOSE_GRACE_MS {
                Verdict::CloseTimeout
            } else {
                Verdict::Keep
            };
        }
        let quiet = now_ms.saturating_sub(self.last_activity_ms);
        if quiet >= idle_timeout_ms {
            Verdict::IdleTimeout
        } else if quiet >= ping_interval_ms
            && now_ms.saturating_sub(self.last_ping_ms) >= ping_interval_ms
        {
            Verdict::Ping
        } else {
            Verdict::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_once_per_interval_then_times_out() {
        let mut l = Liveness::new(0);
        assert_eq!(l.judge(29_999, 30_000, 75_000), Verdict::Keep);
        assert_eq!(l.judge(30_000, 30_000, 75_000), Verdict::Ping);
        l.last_ping_ms = 30_000;
        assert_eq!(l.judge(45_000, 30_000, 75_000), Verdict::Keep);
        assert_eq!(l.judge(60_000, 30_000, 75_000), Verdict::Ping);
        assert_eq!(l.judge(75_000, 30_000, 75_000), Verdict::IdleTimeout);
    }

    #[test]
    fn activity_resets_the_clock() {
        let mut l = Liveness::new(0);
        l.last_activity_ms = 70_000;
        assert_eq!(l.judge(80_000, 30_000, 75_000), Verdict::Keep);
    }

    #[test]
    fn an_unanswered_close_is_dropped_after_the_grace() {
        let l = Liveness {
            closing_since_ms: Some(1_000),
            ..Liveness::new(0)
        };
        assert_eq!(
            l.judge(1_000 + CLOSE_GRACE_MS - 1, 30_000, 75_000),
            Verdict::Keep
        );
        assert_eq!(
            l.judge(1_000 + CLOSE_GRACE_MS, 30_000, 75_000),
            Verdict::CloseTimeout
        );
    }
}
