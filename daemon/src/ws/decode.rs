//! Frame decoding (RFC 6455 5.2-5.6), sans-IO.
//!
//! [`Decoder::decode`] looks at the front of the connection's read buffer and
//! returns one [`Step`]: how many more bytes it needs, or a decoded frame and
//! how many bytes it used. Everything a frame can be refused for (RSV bits,
//! opcode, mask bit, fragmentation order, size) is judged from its header,
//! before its payload is waited for. A refusal is a [`Violation`]: the close
//! code the connection task should send.
//!
//! Unfragmented messages (nearly all traffic) are unmasked in place and
//! returned as a range into the read buffer: no copy, no allocation. Only the
//! fragments of a fragmented message are copied, into the decoder's buffer.

use std::ops::Range;

use super::close;
use super::encode::OpCode;
use super::mask::apply_mask;
use super::utf8::{self, Utf8Stream};

/// Which end of the connection this decoder serves; it decides which mask
/// bit is legal (RFC 6455 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Decodes client frames, which must be masked (the daemon).
    Server,
    /// Decodes server frames, which must not be masked (the load generator).
    Client,
}

/// One result of [`Decoder::decode`]. Every variant but `NeedMore` says how
/// many bytes the caller must drop from the front of its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing was consumed; at least this many bytes beyond `buf.len()` are
    /// needed: exactly enough to finish the header, or once the header is
    /// complete, the frame.
    NeedMore(usize),
    /// A non-final fragment of a data message was absorbed; call again.
    Fragment {
        /// Bytes of the frame.
        consumed: usize,
    },
    /// A complete data message (validated UTF-8 if text).
    Message {
        /// Bytes of the frame.
        consumed: usize,
        /// Text or binary.
        kind: MessageKind,
        /// Where the message's bytes are.
        payload: Payload,
    },
    /// A ping; the caller answers with a pong carrying the same payload.
    Ping {
        /// Bytes of the frame.
        consumed: usize,
        /// The unmasked payload, as a range into the buffer.
        payload: Range<usize>,
    },
    /// A pong (unsolicited ones included; RFC 6455 5.5.3).
    Pong {
        /// Bytes of the frame.
        consumed: usize,
    },
    /// A close frame, validated; the caller echoes it and closes.
    Close {
        /// Bytes of the frame.
        consumed: usize,
        /// The status code, `None` for an empty close payload.
        code: Option<u16>,
        /// The UTF-8 reason, as a range into the buffer (may be empty).
        reason: Range<usize>,
    },
}

impl Step {
    /// Bytes the caller must drop from the front of its buffer (0 for
    /// `NeedMore`).
    pub fn consumed(&self) -> usize {
        match *self {
            Step::NeedMore(_) => 0,
            Step::Fragment { consumed }
            | Step::Message { consumed, .. }
            | Step::Ping { consumed, .. }
            | Step::Pong { consumed }
            | Step::Close { consumed, .. } => consumed,
        }
    }
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// UTF-8 text (already validated).
    Text,
    /// Binary data (the daemon refuses it with 1003; clients may accept it).
    Binary,
}

/// Where a decoded message's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// An unfragmented message: its unmasked bytes in the caller's buffer.
    InBuf(Range<usize>),
    /// A fragmented message: read [`Decoder::assembled`].
    Assembled,
}

/// Why the peer's bytes were refused: the close code to send and a reason for
/// the log (and the close frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("websocket close {code}: {reason}")]
pub struct Violation {
    /// Close code to send (1002, 1007 or 1009).
    pub code: u16,
    /// What the peer did wrong.
    pub reason: &'static str,
}

impl Violation {
    const fn protocol(reason: &'static str) -> Self {
        Violation {
            code: close::PROTOCOL_ERROR,
            reason,
        }
    }
}

/// An assembled buffer larger than this is freed once its message has been
/// handed out, so a rare big fragmented message does not pin memory on a
/// connection for its lifetime; smaller ones are kept for reuse.
const RETAIN_BYTES: usize = 4096;

/// Decodes the frames of one connection, in order. Holds the state of a
/// fragmented message in progress; costs at most 64 bytes, plus, while a
/// fragmented message is being assembled, up to `max_message_bytes` of buffer.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    max_message_bytes: usize,
    /// The kind of the fragmented message in progress, if any.
    partial: Option<MessageKind>,
    /// Fragments received so far, then the whole fragmented message.
    assembled: Vec<u8>,
    /// `assembled` was handed out and may be dropped at the next decode.
    handed_out: bool,
    utf8: Utf8Stream,
}

/// A frame header read far enough to accept the frame.
struct Header {
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    header_len: usize,
    payload_len: usize,
}

impl Decoder {
    /// A decoder for `role` that refuses (1009) any message longer than
    /// `max_message_bytes`.
    pub fn new(role: Role, max_message_bytes: usize) -> Self {
        Decoder {
            role,
            max_message_bytes,
            partial: None,
            assembled: Vec::new(),
            handed_out: false,
            utf8: Utf8Stream::default(),
        }
    }

    /// Decodes at most one frame from the front of `buf`, unmasking its
    /// payload in place. Ranges in the result index `buf`; drop
    /// [`Step::consumed`] bytes before calling again (a frame must not be
    /// decoded twice: unmasking is undone by a second pass). After an error
    /// the connection is to be closed; the decoder is not reusable.
    pub fn decode(&mut self, buf: &mut [u8]) -> Result<Step, Violation> {
        if self.handed_out {
            self.release_assembled();
        }
        let header = match self.header(buf)? {
            Ok(header) => header,
            Err(need) => return Ok(Step::NeedMore(need)),
        };
        let end = header.header_len.saturating_add(header.payload_len);
        if buf.len() < end {
            return Ok(Step::NeedMore(end - buf.len()));
        }
        let payload = header.header_len..end;
        if let Some(mask) = header.mask {
            apply_mask(&mut buf[payload.clone()], mask, 0);
        }
        match header.opcode {
            OpCode::Ping => Ok(Step::Ping {
                consumed: end,
                payload,
            }),
            OpCode::Pong => Ok(Step::Pong { consumed: end }),
            OpCode::Close => close_step(buf, payload),
            OpCode::Text => self.first_frame(MessageKind::Text, header.fin, buf, payload),
            OpCode::Binary => self.first_frame(MessageKind::Binary, header.fin, buf, payload),
            OpCode::Continuation => self.continuation(header.fin, &buf[payload], end),
        }
    }

    /// The payload of the last `Step::Message { payload: Payload::Assembled,
    /// .. }` (a fragmented message); valid until the next decode.
    pub fn assembled(&self) -> &[u8] {
        &self.assembled
    }

    /// Reads and judges the header at the front of `buf`; `Ok(Err(n))` when
    /// `n` more bytes are needed. Each check runs as soon as the bytes it
    /// reads are there, so a refused frame is never waited for.
    fn header(&self, buf: &[u8]) -> Result<Result<Header, usize>, Violation> {
        let Some(&b0) = buf.first() else {
            return Ok(Err(2));
        };
        if b0 & 0x70 != 0 {
            return Err(Violation::protocol(
                "reserved bits set without an extension",
            ));
        }
        let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(Violation::protocol("reserved opcode"))?;
        let fin = b0 & 0x80 != 0;
        let control = opcode.is_control();
        if control && !fin {
            return Err(Violation::protocol("fragmented control frame"));
        }
        match (opcode, self.partial) {
            (OpCode::Continuation, None) => return Err(NO_MESSAGE_TO_CONTINUE),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(Violation::protocol("new message inside a fragmented one"))
            }
            _ => {}
        }

        let Some(&b1) = buf.get(1) else {
            return Ok(Err(1));
        };
        let masked = b1 & 0x80 != 0;
        match (self.role, masked) {
            (Role::Server, false) => return Err(Violation::protocol("unmasked client frame")),
            (Role::Client, true) => return Err(Violation::protocol("masked server frame")),
            _ => {}
        }
        let len7 = b1 & 0x7f;
        if control && len7 > 125 {
            return Err(Violation::protocol("control frame over 125 bytes"));
        }
        let extended = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + extended + if masked { 4 } else { 0 };
        if buf.len() < 2 + extended {
            return Ok(Err(header_len - buf.len()));
        }

        // RFC 6455 5.2 tells senders to use the shortest length form but
        // gives receivers no reason to refuse a longer one; like most
        // implementations we accept it, since the length itself is sound.
        let payload_len = match extended {
            0 => u64::from(len7),
            2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
            _ => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&buf[2..10]);
                u64::from_be_bytes(be)
            }
        };
        if payload_len >> 63 != 0 {
            return Err(Violation::protocol("64-bit length with the top bit set"));
        }
        if !control {
            let so_far = if opcode == OpCode::Continuation {
                self.assembled.len()
            } else {
                0
            };
            let total = (so_far as u64).saturating_add(payload_len);
            if total > self.max_message_bytes as u64 {
                return Err(Violation {
                    code: close::TOO_BIG,
                    reason: "message over the size limit",
                });
            }
        }
        // Fits in usize: at most 125 (control) or max_message_bytes (data).
        let payload_len = payload_len as usize;

        if buf.len() < header_len {
            return Ok(Err(header_len - buf.len()));
        }
        let mask = if masked {
            let k = header_len - 4;
            Some([buf[k], buf[k + 1], buf[k + 2], buf[k + 3]])
        } else {
            None
        };
        Ok(Ok(Header {
            fin,
            opcode,
            mask,
            header_len,
            payload_len,
        }))
    }

    /// A message's first frame: the whole message (returned in place), or
    /// the first fragment (copied).
    fn first_frame(
        &mut self,
        kind: MessageKind,
        fin: bool,
        buf: &[u8],
        payload: Range<usize>,
    ) -> Result<Step, Violation> {
        let consumed = payload.end;
        if fin {
            if kind == MessageKind::Text && !utf8::is_valid(&buf[payload.clone()]) {
                return Err(NOT_UTF8);
            }
            let payload = Payload::InBuf(payload);
            return Ok(Step::Message {
                consumed,
                kind,
                payload,
            });
        }
        self.partial = Some(kind);
        self.assembled.clear();
        self.utf8.reset();
        self.absorb(kind, &buf[payload])?;
        Ok(Step::Fragment { consumed })
    }

    /// A continuation frame: one more fragment, and if final, the message.
    fn continuation(
        &mut self,
        fin: bool,
        fragment: &[u8],
        consumed: usize,
    ) -> Result<Step, Violation> {
        // `header` has refused a continuation with nothing to continue.
        let Some(kind) = self.partial else {
            return Err(NO_MESSAGE_TO_CONTINUE);
        };
        self.absorb(kind, fragment)?;
        if !fin {
            return Ok(Step::Fragment { consumed });
        }
        if kind == MessageKind::Text {
            self.utf8.finish().map_err(|_| NOT_UTF8)?;
        }
        self.partial = None;
        self.handed_out = true;
        Ok(Step::Message {
            consumed,
            kind,
            payload: Payload::Assembled,
        })
    }

    /// Appends a fragment to the message in progress, validating text as it
    /// comes (RFC 6455 8.1: fail as soon as the text cannot be valid).
    fn absorb(&mut self, kind: MessageKind, fragment: &[u8]) -> Result<(), Violation> {
        if kind == MessageKind::Text {
            self.utf8.feed(fragment).map_err(|_| NOT_UTF8)?;
        }
        self.assembled.extend_from_slice(fragment);
        Ok(())
    }

    /// Forgets a handed-out message, freeing a big buffer (see
    /// [`RETAIN_BYTES`]).
    fn release_assembled(&mut self) {
        self.handed_out = false;
        if self.assembled.capacity() > RETAIN_BYTES {
            self.assembled = Vec::new();
        } else {
            self.assembled.clear();
        }
    }
}

const NOT_UTF8: Violation = Violation {
    code: close::INVALID_PAYLOAD,
    reason: "text is not valid UTF-8",
};
const NO_MESSAGE_TO_CONTINUE: Violation =
    Violation::protocol("continuation frame without a message");

/// Validates a close frame's payload (RFC 6455 5.5.1, 7.4).
fn close_step(buf: &[u8], payload: Range<usize>) -> Result<Step, Violation> {
    let consumed = payload.end;
    let body = &buf[payload.clone()];
    match body {
        [] => Ok(Step::Close {
            consumed,
            code: None,
            reason: payload.end..payload.end,
        }),
        [_] => Err(Violation::protocol("close payload of one byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close::is_valid_received(code) {
                return Err(Violation::protocol("close code not allowed on the wire"));
            }
            if !utf8::is_valid(reason) {
                return Err(Violation {
                    code: close::INVALID_PAYLOAD,
                    reason: "close reason is not valid UTF-8",
                });
            }
            Ok(Step::Close {
                consumed,
                code: Some(code),
                reason: payload.start + 2..payload.end,
            })
        }
    }
}

#[cfg(test)]
mod tests;
