//! Per-connection message rate limit: a token bucket with time passed in.

/// Refills `rate` tokens per second up to `burst`; one message costs one token.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f32,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket at time `now_ms`.
    pub fn new(burst: u32, now_ms: u64) -> Self {
        Self {
            tokens: burst as f32,
            last_ms: now_ms,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, rate: u32, burst: u32, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = now_ms;
        self.tokens = (self.tokens + elapsed as f32 * rate as f32 / 1000.0).min(burst as f32);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_at_rate() {
        let mut b = TokenBucket::new(3, 0);
        assert!((0..3).all(|_| b.take(10, 3, 0)));
        assert!(!b.take(10, 3, 0));
        assert!(!b.take(10, 3, 50));
        assert!(b.take(10, 3, 100));
        assert!(b.take(10, 3, 10_000) && b.take(10, 3, 10_000) && b.take(10, 3, 10_000));
        assert!(!b.take(10, 3, 10_000));
    }
}
