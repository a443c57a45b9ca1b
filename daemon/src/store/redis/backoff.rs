//! Reconnect delays: doubling from a base up to a cap, each jittered to a
//! random point in its upper half, so nodes that lost one Redis together do
//! not knock on it again in lockstep.

use std::time::Duration;

/// Delays between reconnect attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    step: Duration,
}

impl Backoff {
    /// Delays from `base`, doubling, never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        let base = base.min(cap);
        Backoff {
            base,
            cap,
            step: base,
        }
    }

    /// The delay before the next attempt; `random` is any random number
    /// (passed in so tests are deterministic).
    pub fn next(&mut self, random: u64) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.cap);
        let half = step / 2;
        let nanos = half.as_nanos().max(1) as u64;
        half + Duration::from_nanos(random % (nanos + 1))
    }

    /// Back to the base delay (after a successful connection).
    pub fn reset(&mut self) {
        self.step = self.base;
    }
}

/// A random number for [`Backoff::next`] from the OS (0 if it has none).
pub fn random() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_within_the_upper_half() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(50), ms(1000));
        let mut steps = Vec::new();
        for r in [0, u64::MAX, 7, 0, u64::MAX, 3, 0] {
            steps.push(b.next(r));
        }
        let bounds = [50, 100, 200, 400, 800, 1000, 1000];
        for (d, top) in steps.iter().zip(bounds) {
            assert!(
                *d >= ms(top / 2) && *d <= ms(top),
                "{d:?} outside [{}, {top}] ms",
                top / 2
            );
        }
        assert_eq!(steps[0], ms(25), "random 0 is the bottom of the range");
        b.reset();
        assert!(b.next(u64::MAX) <= ms(50));
    }

    #[test]
    fn a_base_above_the_cap_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(1));
        assert!(b.next(u64::MAX) <= Duration::from_secs(1));
    }
}
