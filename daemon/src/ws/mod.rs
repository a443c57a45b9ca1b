//! RFC 6455 WebSocket codec, sans-IO: handshake keys, frame decoding and
//! encoding, close codes. Bytes in, decisions and bytes out; the connection
//! task in `server` does the reading and writing.

#![forbid(unsafe_code)]

pub mod close;
pub mod decode;
pub mod encode;
pub mod handshake;
pub mod mask;
mod utf8;
