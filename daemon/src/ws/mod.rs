//! RFC 6455 WebSocket codec, sans-IO: handshake keys, frame decoding and encoding.

pub mod encode;
