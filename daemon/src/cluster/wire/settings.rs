//! The datagram layer's knobs, checked once when the layer is built.

use super::deliver::ITEM_HEADER;
use super::fragment::FRAGMENT_HEADER;
use super::header::{MAX_DATAGRAM, OVERHEAD};
use super::window::WINDOW;

/// Smallest datagram size accepted: a deliver item with a small frame, a
/// fragment with a useful piece, and a heartbeat for a hundred nodes fit.
pub const MIN_DATAGRAM: usize = 512;

/// Sizes, delays and bounds of the datagram layer. Every node of a cluster
/// should use the same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Largest datagram sent, header and tag included. The default, 1,400,
    /// fits an Ethernet MTU with IPv6 and UDP headers.
    pub max_datagram: usize,
    /// Longest a queued item waits for its batch to fill, in milliseconds.
    pub max_delay_ms: u64,
    /// Sent datagrams kept per peer to answer NACKs (memory: about
    /// `history × max_datagram` bytes per peer).
    pub history: usize,
    /// Largest frame a peer may send in fragments (the daemon's
    /// `max_message_bytes` plus the frame header).
    pub max_message: usize,
    /// Bytes of incomplete fragmented frames held, across all peers; the
    /// oldest incomplete frame is evicted to make room.
    pub max_pending: usize,
    /// An incomplete fragmented frame is dropped this long after its first
    /// piece arrived, in milliseconds.
    pub reassembly_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_datagram: 1400,
            max_delay_ms: 2,
            history: 256,
            max_message: 64 * 1024 + 16,
            max_pending: 4 << 20,
            reassembly_timeout_ms: 5_000,
        }
    }
}

/// A setting out of its range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cluster datagram setting `{field}` {problem}")]
pub struct SettingsError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Settings {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let err = |field, problem: String| Err(SettingsError { field, problem });
        if !(MIN_DATAGRAM..=MAX_DATAGRAM).contains(&self.max_datagram) {
            return err(
                "max_datagram",
                format!(
                    "is {}, must be {MIN_DATAGRAM} to {MAX_DATAGRAM}",
                    self.max_datagram
                ),
            );
        }
        if self.max_delay_ms > 1_000 {
            return err(
                "max_delay_ms",
                format!("is {}, must be at most 1000", self.max_delay_ms),
            );
        }
        if !(1..=WINDOW as usize).contains(&self.history) {
            return err(
                "history",
                format!(
                    "is {}, must be 1 to {WINDOW} (the replay window)",
                    self.history
                ),
            );
        }
        let max_pieces = usize::from(u16::MAX) * self.piece_cap();
        if self.max_message == 0 || self.max_message > max_pieces {
            return err(
                "max_message",
                format!(
                    "is {}, must be 1 to {max_pieces} (65,535 pieces)",
                    self.max_message
                ),
            );
        }
        if self.max_pending < self.max_message {
            return err(
                "max_pending",
                format!(
                    "is {}, must hold at least one max_message ({})",
                    self.max_pending, self.max_message
                ),
            );
        }
        if self.reassembly_timeout_ms == 0 {
            return err("reassembly_timeout_ms", "must be above 0".into());
        }
        Ok(())
    }

    /// Largest body of one datagram.
    pub fn body_cap(&self) -> usize {
        self.max_datagram - OVERHEAD
    }

    /// Largest frame that travels as one deliver item.
    pub fn max_unfragmented(&self) -> usize {
        (self.body_cap() - ITEM_HEADER).min(usize::from(u16::MAX))
    }

    /// Largest piece of a fragmented frame.
    pub fn piece_cap(&self) -> usize {
        self.body_cap() - FRAGMENT_HEADER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = [
            (
                "max_datagram",
                Settings {
                    max_datagram: 100,
                    ..Default::default()
                },
            ),
            (
                "max_datagram",
                Settings {
                    max_datagram: 70_000,
                    ..Default::default()
                },
            ),
            (
                "max_delay_ms",
                Settings {
                    max_delay_ms: 5_000,
                    ..Default::default()
                },
            ),
            (
                "history",
                Settings {
                    history: 0,
                    ..Default::default()
                },
            ),
            (
                "history",
                Settings {
                    history: 5_000,
                    ..Default::default()
                },
            ),
            (
                "max_message",
                Settings {
                    max_message: 0,
                    ..Default::default()
                },
            ),
            (
                "max_pending",
                Settings {
                    max_pending: 10,
                    ..Default::default()
                },
            ),
            (
                "reassembly_timeout_ms",
                Settings {
                    reassembly_timeout_ms: 0,
                    ..Default::default()
                },
            ),
        ];
        for (field, s) in bad {
            assert_eq!(s.validate().unwrap_err().field, field);
        }
    }
}
