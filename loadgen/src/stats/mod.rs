//! Counters and latency histograms, kept per core and merged by the
//! coordinator (across cores and worker processes).

mod counters;
mod hist;

pub use counters::Counters;
pub use hist::{Hist, Percentiles};

/// Microseconds since the Unix epoch: comparable across threads and across
/// the worker processes of one machine (a monotonic clock would not be).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
