//! Why a received datagram was dropped: one variant per counter in `/metrics`.

/// The reason [`Receiver::accept`](super::Receiver::accept) refused a
/// datagram. Checks run in the order listed; only `UnknownPeer` and the
/// variants after it are reported for datagrams whose MAC passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DropReason {
    /// Shorter than header plus tag, longer than the largest UDP payload, or
    /// its declared body length disagrees with its size.
    #[error("datagram size or declared body length is wrong")]
    Size,
    /// Does not start with the datagram magic: not an imedge datagram.
    #[error("bad magic: not an imedge cluster datagram")]
    Magic,
    /// Another datagram format version.
    #[error("unsupported datagram version")]
    Version,
    /// The tag does not match: forged, corrupted, or another cluster secret.
    #[error("MAC check failed (forged, corrupted, or another cluster secret)")]
    Mac,
    /// Sealed for another node: relayed or misrouted.
    #[error("datagram addressed to another node")]
    Misdirected,
    /// The sender is not one of this node's configured peers.
    #[error("sender is not a configured peer")]
    UnknownPeer,
    /// Seen before, older than the replay window, or from an earlier
    /// incarnation of the sender.
    #[error("replayed, duplicate or too old datagram")]
    Replay,
    /// Authentic but its body does not parse (unknown kind, bad lengths,
    /// bad field values).
    #[error("malformed datagram body")]
    Malformed,
    /// The fragments of one message add up to more than the reassembly limit.
    #[error("fragmented message exceeds the reassembly limit")]
    TooLarge,
}

impl DropReason {
    /// Every reason, for rendering one counter each.
    pub const ALL: [DropReason; 9] = [
        DropReason::Size,
        DropReason::Magic,
        DropReason::Version,
        DropReason::Mac,
        DropReason::Misdirected,
        DropReason::UnknownPeer,
        DropReason::Replay,
        DropReason::Malformed,
        DropReason::TooLarge,
    ];

    /// The `reason` label value in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Size => "size",
            DropReason::Magic => "magic",
            DropReason::Version => "version",
            DropReason::Mac => "mac",
            DropReason::Misdirected => "misdirected",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::Replay => "replay",
            DropReason::Malformed => "malformed",
            DropReason::TooLarge => "too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct() {
        let mut labels: Vec<_> = DropReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), DropReason::ALL.len());
    }
}
