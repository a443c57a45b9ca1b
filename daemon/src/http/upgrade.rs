//! The `/chat` handshake checks of PROTOCOL.md section 1, minus the ones that
//! need state the caller holds: the token signature (auth), the connection
//! count and draining (server).
//!
//! The order is the table's: a request that is not a WebSocket upgrade at all
//! is told so before its `id` is looked at.

use base64::Engine as _;

use super::query::query_param;
use super::request::{Method, RequestHead};
use super::response::json_error;

/// A handshake that passed [`check_upgrade`]; the token is still unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The `id` query parameter, a positive user id.
    pub uid: i64,
    /// The `token` query parameter, percent-decoded; for auth to verify.
    pub token: String,
    /// `Sec-WebSocket-Key`, valid base64 of 16 bytes, for the accept header.
    pub client_key: String,
    /// `Origin`, for [`check_origin`].
    pub origin: Option<String>,
}

/// Why a handshake is refused; answer with [`Rejection::response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}: {msg}")]
pub struct Rejection {
    /// HTTP status: 400, 401, 403 or 426.
    pub status: u16,
    /// Short fixed label for logs and metrics, e.g. `bad_id`.
    pub reason: &'static str,
    /// Human sentence for the JSON body's `msg`.
    pub msg: &'static str,
}

impl Rejection {
    const fn new(status: u16, reason: &'static str, msg: &'static str) -> Rejection {
        Rejection {
            status,
            reason,
            msg,
        }
    }

    /// The JSON error answer for this rejection.
    pub fn response(&self, keep_alive: bool) -> Vec<u8> {
        json_error(self.status, self.msg, keep_alive)
    }
}

const BAD_METHOD: Rejection = Rejection::new(400, "bad_method", "WebSocket upgrade must use GET");
const BAD_HTTP_VERSION: Rejection =
    Rejection::new(400, "bad_http_version", "WebSocket upgrade needs HTTP/1.1");
const NO_UPGRADE: Rejection = Rejection::new(400, "no_upgrade", "missing Upgrade: websocket");
const NO_CONNECTION_UPGRADE: Rejection =
    Rejection::new(400, "no_connection_upgrade", "missing Connection: Upgrade");
const BAD_KEY: Rejection = Rejection::new(
    400,
    "bad_key",
    "Sec-WebSocket-Key must be the base64 of 16 bytes",
);
const BAD_WS_VERSION: Rejection = Rejection::new(
    426,
    "bad_ws_version",
    "only Sec-WebSocket-Version 13 is supported",
);
const BAD_ID: Rejection = Rejection::new(400, "bad_id", "id must be a positive 64-bit integer");
const NO_TOKEN: Rejection = Rejection::new(401, "no_token", "token missing");
const BAD_ORIGIN: Rejection = Rejection::new(403, "bad_origin", "origin not allowed");

/// Checks a `/chat` request head: method GET, HTTP/1.1, `Upgrade: websocket`,
/// `Connection: upgrade`, a valid key (400 each), version 13 (426), a
/// positive `id` (400) and a non-empty `token` (401), in that order.
pub fn check_upgrade(head: &RequestHead) -> Result<UpgradeRequest, Rejection> {
    if head.method != Method::Get {
        return Err(BAD_METHOD);
    }
    if head.version_minor < 1 {
        return Err(BAD_HTTP_VERSION);
    }
    if !head.upgrade_websocket {
        return Err(NO_UPGRADE);
    }
    if !head.connection_upgrade {
        return Err(NO_CONNECTION_UPGRADE);
    }
    let client_key = match &head.ws_key {
        Some(k) if valid_key(k) => k.clone(),
        _ => return Err(BAD_KEY),
    };
    // A missing version is answered like a wrong one: 426 tells the client
    // which version to speak (RFC 6455 section 4.2.2).
    if head.ws_version.as_deref() != Some("13") {
        return Err(BAD_WS_VERSION);
    }
    let uid = query_param(&head.query, "id")
        .and_then(|v| positive_id(&v))
        .ok_or(BAD_ID)?;
    let token = match query_param(&head.query, "token") {
        Some(t) if !t.is_empty() => t.into_owned(),
        _ => return Err(NO_TOKEN),
    };
    Ok(UpgradeRequest {
        uid,
        token,
        client_key,
        origin: head.origin.clone(),
    })
}

/// Checks `Origin` against the allow-list: 403 when the list is non-empty and
/// the header is present and matches no entry. An entry is
/// `scheme://host[:port]`, compared ignoring ASCII case. A request without
/// `Origin` passes: it comes from a non-browser client, which could send any
/// Origin it liked anyway.
pub fn check_origin(origin: Option<&str>, allowed: &[String]) -> Result<(), Rejection> {
    match origin {
        Some(o) if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(o)) => {
            Err(BAD_ORIGIN)
        }
        _ => Ok(()),
    }
}

/// RFC 6455 4.1: the key is a base64-encoded 16-byte nonce, so 24 characters.
fn valid_key(key: &str) -> bool {
    let mut out = [0u8; 18];
    key.len() == 24
        && matches!(
            base64::engine::general_purpose::STANDARD.decode_slice(key, &mut out),
            Ok(16)
        )
}

/// Digits only, so `+7`, ` 7` and `0x7` are refused rather than read as 7.
fn positive_id(v: &str) -> Option<i64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<i64>().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests;
