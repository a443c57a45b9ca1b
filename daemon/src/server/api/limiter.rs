//! Login and registration attempts limited per key (a mobile number, a
//! client address) in fixed one-minute windows, shared by every core: these
//! calls are rare and slow (a hash each), so one lock is fine.

use std::collections::HashMap;
use std::sync::Mutex;

/// Window length in seconds.
pub const WINDOW_S: u64 = 60;
/// Keys kept before expired windows are swept out.
const SWEEP_AT: usize = 100_000;

/// Attempts counted per key per window.
#[derive(Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

impl Limiter {
    /// Counts an attempt for `key` at `now_s`; false when `limit` attempts
    /// were already made in this window.
    pub fn allow(&self, key: &str, limit: u32, now_s: u64) -> bool {
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() >= SWEEP_AT {
            w.retain(|_, (start, _)| now_s < *start + WINDOW_S);
        }
        let entry = w.entry(key.to_owned()).or_insert((now_s, 0));
        if now_s >= entry.0 + WINDOW_S {
            *entry = (now_s, 0);
        }
        if entry.1 >= limit {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_resets() {
        let l = Limiter::default();
        assert!((0..3).all(|_| l.allow("m:1", 3, 100)));
        assert!(!l.allow("m:1", 3, 130));
        assert!(l.allow("m:2", 3, 130), "keys are apart");
        assert!(l.allow("m:1", 3, 160));
    }
}
