//! Server-side (unmasked) frame encoding.
//!
//! Frames are built once and shared by every recipient, so a payload is
//! written into a buffer that keeps [`HEADROOM`] spare bytes in front; the
//! header is then placed right before the payload and the frame is frozen
//! without copying the payload again.

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes reserved in front of a payload for the largest server frame header
/// (2 bytes + 8-byte extended length; server frames carry no mask).
pub const HEADROOM: usize = 10;

/// Frame opcodes of RFC 6455 section 5.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpCode {
    /// Continuation of a fragmented message.
    Continuation = 0x0,
    /// UTF-8 text message.
    Text = 0x1,
    /// Binary message.
    Binary = 0x2,
    /// Close control frame.
    Close = 0x8,
    /// Ping control frame.
    Ping = 0x9,
    /// Pong control frame.
    Pong = 0xA,
}

/// A buffer with [`HEADROOM`] zero bytes in front, ready for a payload.
pub fn payload_buf(capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(HEADROOM + capacity);
    buf.put_bytes(0, HEADROOM);
    buf
}

/// Length of the header of an unmasked frame carrying `len` payload bytes.
pub fn header_len(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    }
}

/// Writes the header of a final, unmasked frame into `out[..header_len(len)]`.
pub fn write_header(opcode: OpCode, len: usize, out: &mut [u8]) -> usize {
    out[0] = 0x80 | opcode as u8;
    match len {
        0..=125 => {
            out[1] = len as u8;
            2
        }
        126..=65535 => {
            out[1] = 126;
            out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = 127;
            out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    }
}

/// Turns a buffer made by [`payload_buf`] (headroom + payload) into a final
/// frame, writing the header into the headroom: no payload copy.
pub fn finish(opcode: OpCode, mut buf: BytesMut) -> Bytes {
    let len = buf.len() - HEADROOM;
    let hlen = header_len(len);
    let start = HEADROOM - hlen;
    write_header(opcode, len, &mut buf[start..HEADROOM]);
    buf.freeze().slice(start..)
}

/// A final unmasked frame carrying `payload` (one copy of the payload).
pub fn frame(opcode: OpCode, payload: &[u8]) -> Bytes {
    let mut buf = payload_buf(payload.len());
    buf.extend_from_slice(payload);
    finish(opcode, buf)
}

/// A close frame with `code` and a reason (truncated to fit 125 bytes on a
/// UTF-8 boundary).
pub fn close(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut buf = payload_buf(2 + end);
    buf.put_u16(code);
    buf.extend_from_slice(&reason.as_bytes()[..end]);
    finish(OpCode::Close, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths_follow_the_three_length_forms() {
        for (len, want) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let f = frame(OpCode::Text, &vec![b'a'; len]);
            assert_eq!(f.len() - len, want, "len {len}");
            assert_eq!(f[0], 0x81);
        }
    }

    #[test]
    fn extended_lengths_are_big_endian() {
        let f = frame(OpCode::Binary, &[7u8; 300]);
        assert_eq!(&f[..4], &[0x82, 126, 0x01, 0x2c]);
        let f = frame(OpCode::Text, &vec![0u8; 70000]);
        assert_eq!(f[1], 127);
        assert_eq!(u64::from_be_bytes(f[2..10].try_into().unwrap()), 70000);
    }

    #[test]
    fn close_reason_is_cut_on_a_char_boundary() {
        let reason = "é".repeat(100);
        let f = close(1008, &reason);
        assert_eq!(f[0], 0x88);
        let len = f[1] as usize;
        assert!(len <= 125);
        assert_eq!(u16::from_be_bytes([f[2], f[3]]), 1008);
        assert!(std::str::from_utf8(&f[4..]).is_ok());
    }
}
