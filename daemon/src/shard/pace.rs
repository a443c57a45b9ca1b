//! When a core gathers its writes. Writing each batch as soon as it is
//! ready gives the lowest latency, but under heavy fanout it means many
//! small writes, and on loopback or a busy NIC the kernel's cost is per
//! write, not per byte. Above a rate of queued frames a core waits one
//! timer tick before a writing pass, so each connection's frames of that
//! tick go out in one write. Measured on 2 vCPUs, 100-member rooms at full
//! load, four interleaved rounds: server CPU per delivery 0.37-0.51 µs
//! writing at once, 0.29-0.40 µs gathering; one `sendmsg` per 12
//! deliveries before, per 42 after. Below the rate nothing waits.

/// How long the rate is measured before the choice is made again.
const WINDOW_MS: u64 = 10;

/// A core's choice between writing at once and gathering for a tick,
/// made afresh every window from the frames queued in the last one.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Frames per second above which the core gathers; 0: never.
    above: u64,
    window_start_ms: u64,
    frames_at_start: u64,
    gathering: bool,
}

impl Pace {
    /// Gathers above `above` frames per second (0: never), starting out writing at once.
    pub fn new(above: u64) -> Pace {
        Pace {
            above,
            window_start_ms: 0,
            frames_at_start: 0,
            gathering: false,
        }
    }

    /// Whether the writing pass about to run should wait for the next tick,
    /// given the clock and the core's count of frames queued so far.
    pub fn gather(&mut self, now_ms: u64, frames: u64) -> bool {
        if self.above == 0 {
            return false;
        }
        let elapsed = now_ms.saturating_sub(self.window_start_ms);
        if elapsed >= WINDOW_MS {
            let queued = frames.saturating_sub(self.frames_at_start);
            self.gathering = queued.saturating_mul(1000) / elapsed > self.above;
            self.window_start_ms = now_ms;
            self.frames_at_start = frames;
        }
        self.gathering
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_only_while_the_last_window_ran_above_the_rate() {
        let mut p = Pace::new(100_000);
        assert!(!p.gather(0, 0), "starts out writing at once");
        // 2,000 frames in 10 ms = 200,000 a second: gather for the next window.
        assert!(p.gather(10, 2_000));
        assert!(p.gather(15, 2_500), "the choice holds inside a window");
        // 500 frames in the next 10 ms = 50,000 a second: back to at once.
        assert!(!p.gather(20, 2_500));
    }

    #[test]
    fn a_burst_after_a_quiet_spell_is_judged_over_the_whole_spell() {
        let mut p = Pace::new(100_000);
        p.gather(0, 0);
        // 5,000 frames, but over 10 s: a low rate, so no waiting.
        assert!(!p.gather(10_000, 5_000));
    }

    #[test]
    fn zero_never_gathers() {
        let mut p = Pace::new(0);
        assert!(!p.gather(10, u64::MAX));
        assert!(!p.gather(20, u64::MAX));
    }
}
