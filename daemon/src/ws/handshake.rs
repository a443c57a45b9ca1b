//! The opening handshake's keys (RFC 6455 4.1, 4.2) and a client request.
//!
//! Parsing the HTTP request itself is the `http` module's job; this file only
//! knows what WebSocket adds to it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 appends to the client key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key ++ GUID)), 28 characters. Surrounding whitespace of the
/// key is ignored, as RFC 6455 4.2.2 asks.
pub fn accept_key(client_key: &[u8]) -> String {
    let digest = Sha1::new()
        .chain_update(client_key.trim_ascii())
        .chain_update(GUID)
        .finalize();
    STANDARD.encode(digest)
}

/// Whether a `Sec-WebSocket-Key` is base64 (padded, canonical) of exactly
/// 16 bytes, as RFC 6455 4.1 requires of clients.
pub fn is_valid_client_key(client_key: &[u8]) -> bool {
    let key = client_key.trim_ascii();
    // 16 bytes always encode to 24 characters; checking first keeps a long
    // header from being decoded at all.
    let mut nonce = [0u8; 16];
    key.len() == 24 && STANDARD.decode_slice(key, &mut nonce) == Ok(16)
}

/// A `Sec-WebSocket-Key` for a 16-byte random nonce (for clients).
pub fn client_key(nonce: [u8; 16]) -> String {
    STANDARD.encode(nonce)
}

/// The client's upgrade request (RFC 6455 4.1), for the load generator and
/// the tests. `path_and_query` starts with `/`.
pub fn client_request(host: &str, path_and_query: &str, client_key: &str) -> String {
    format!(
        "GET {path_and_query} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {client_key}\r\n\
         Sec-WebSocket-Version: 13\r\n\
         \r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1_3_example_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_key(b" dGhlIHNhbXBsZSBub25jZQ==\t"),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_keys_must_be_16_bytes_of_base64() {
        assert!(is_valid_client_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_client_key(client_key([0xff; 16]).as_bytes()));
        assert!(!is_valid_client_key(b""));
        assert!(!is_valid_client_key(b"dGhlIHNhbXBsZSBub25jZQ")); // unpadded
        assert!(!is_valid_client_key(b"dGhlIHNhbXBsZSBub25jZQ==dGhl")); // too long
        assert!(!is_valid_client_key(b"dGhlIHNhbXBsZSBub25jZXM=")); // 17 bytes
        assert!(!is_valid_client_key(b"dGhlIHNhbXBsZSBub25jZ!==")); // not base64
        assert!(!is_valid_client_key(b"dGhlIHNhbXBsZSBub25jZR==")); // trailing bits set
    }

    #[test]
    fn client_request_is_a_complete_upgrade() {
        let key = client_key(*b"the sample nonce");
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        let req = client_request("server.example.com", "/chat?token=x", &key);
        assert!(req.starts_with("GET /chat?token=x HTTP/1.1\r\nHost: server.example.com\r\n"));
        assert!(req.contains("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"));
        assert!(req.contains("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        assert!(req.ends_with("Sec-WebSocket-Version: 13\r\n\r\n"));
    }
}
