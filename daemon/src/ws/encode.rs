//! Frame encoding: server frames (unmasked) and client frames (masked).
//!
//! Server frames are built once and shared by every recipient, so a payload
//! is written into a buffer that keeps [`HEADROOM`] spare bytes in front; the
//! header is then placed right before the payload and the frame is frozen
//! without copying the payload again. Client frames ([`client_frame`]) are for
//! the load generator, the tests, the fuzz target and the benches.

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

impl OpCode {
    /// The opcode for the low four bits of a frame's first byte, or `None`
    /// for the reserved opcodes 0x3-0x7 and 0xB-0xF.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0x0 => Some(Self::Continuation),
            0x1 => Some(Self::Text),
            0x2 => Some(Self::Binary),
            0x8 => Some(Self::Close),
            0x9 => Some(Self::Ping),
            0xA => Some(Self::Pong),
            _ => None,
        }
    }

    /// Whether this is a control opcode (close, ping, pong: RFC 6455 5.5).
    pub fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
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

/// Appends one masked client frame to `out`: FIN as given, no RSV bits, the
/// payload XORed with `mask` (RFC 6455 5.3). Costs one copy of the payload.
pub fn client_frame(opcode: OpCode, fin: bool, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    let len = payload.len();
    out.reserve(header_len(len) + 4 + len);
    out.push((u8::from(fin) << 7) | opcode as u8);
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=65535 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    super::mask::apply_mask(&mut out[start..], mask, 0);
}

/// Appends a masked client close frame with `code` and `reason` to `out`
/// (the reason is cut to fit 125 bytes on a UTF-8 boundary).
pub fn client_close(code: u16, reason: &str, mask: [u8; 4], out: &mut Vec<u8>) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; 125];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    client_frame(OpCode::Close, true, &payload[..2 + end], mask, out);
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

    #[test]
    fn opcodes_round_trip_through_their_bits() {
        for bits in 0..16u8 {
            match OpCode::from_bits(bits) {
                Some(op) => assert_eq!(op as u8, bits),
                None => assert!(matches!(bits, 0x3..=0x7 | 0xB..=0xF)),
            }
        }
        assert!(OpCode::Ping.is_control() && !OpCode::Continuation.is_control());
    }

    #[test]
    fn client_frames_match_rfc_5_7_masked_hello() {
        let mut out = Vec::new();
        client_frame(
            OpCode::Text,
            true,
            b"Hello",
            [0x37, 0xfa, 0x21, 0x3d],
            &mut out,
        );
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }

    #[test]
    fn client_frames_use_the_three_length_forms() {
        for (len, want) in [(0, 6), (125, 6), (126, 8), (65535, 8), (65536, 14)] {
            let mut out = Vec::new();
            client_frame(
                OpCode::Binary,
                false,
                &vec![1u8; len],
                [1, 2, 3, 4],
                &mut out,
            );
            assert_eq!(out.len() - len, want, "len {len}");
            assert_eq!(out[0], 0x02, "FIN clear, binary");
            assert_eq!(out[1] & 0x80, 0x80, "mask bit set");
        }
    }

    #[test]
    fn client_close_carries_code_and_reason() {
        let mut out = Vec::new();
        client_close(1000, "bye", [0; 4], &mut out);
        assert_eq!(out, [0x88, 0x85, 0, 0, 0, 0, 0x03, 0xe8, b'b', b'y', b'e']);
    }
}
