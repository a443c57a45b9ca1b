//! Client messages, sans-IO: parse and validate an envelope, splice the
//! server's fields into the delivered frame, and build the server's own
//! replies (PROTOCOL.md sections 3 and 4).
//!
//! The per-message path is [`parse`] then [`stamped_frame`] or
//! [`error_frame`]: one simd-json pass over a reused scratch buffer and one
//! allocation for the outgoing frame, which every recipient then shares.
#![forbid(unsafe_code)]

mod envelope;
mod fields;
pub mod json;
pub mod limits;
mod reply;
mod stamp;
mod sync;
mod tape;

pub use envelope::{parse, Cmd, Envelope, Reject};
pub use reply::{ack_frame, error_frame, read_reply, sync_done_frame, ReplyOf};
pub use stamp::{stamped_frame, stamped_seq};
pub use sync::SyncRequest;

#[cfg(test)]
mod test_util {
    /// The payload of a final, unmasked text frame, checking its header.
    pub(crate) fn payload_of(frame: &[u8]) -> &[u8] {
        assert_eq!(frame[0], 0x81);
        let (len, start) = match frame[1] {
            126 => (usize::from(u16::from_be_bytes([frame[2], frame[3]])), 4),
            127 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (usize::from(n), 2),
        };
        assert_eq!(frame.len(), start + len);
        &frame[start..]
    }
}
