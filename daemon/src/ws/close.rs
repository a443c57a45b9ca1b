//! Close status codes (RFC 6455 7.4) and which of them a peer may send.

/// Normal closure: the purpose of the connection was fulfilled.
pub const NORMAL: u16 = 1000;
/// The endpoint is going away (server shutdown, browser leaving the page).
pub const GOING_AWAY: u16 = 1001;
/// The peer broke the protocol (unmasked frame, RSV bits, bad opcode, ...).
pub const PROTOCOL_ERROR: u16 = 1002;
/// A data type the endpoint does not accept (imedge: binary messages).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// No status code was present; local bookkeeping only, never sent.
pub const NO_STATUS: u16 = 1005;
/// The connection dropped without a close frame; local bookkeeping only,
/// never sent.
pub const ABNORMAL: u16 = 1006;
/// A message's data did not match its type (invalid UTF-8 in a text message
/// or close reason).
pub const INVALID_PAYLOAD: u16 = 1007;
/// A message violated the endpoint's policy.
pub const POLICY: u16 = 1008;
/// A message exceeded the size limit.
pub const TOO_BIG: u16 = 1009;
/// The client expected an extension the server did not negotiate.
pub const MANDATORY_EXTENSION: u16 = 1010;
/// The server met an unexpected condition.
pub const INTERNAL_ERROR: u16 = 1011;
/// The server is restarting; the client may reconnect.
pub const SERVICE_RESTART: u16 = 1012;
/// The server is overloaded; the client should retry later.
pub const TRY_AGAIN_LATER: u16 = 1013;

/// Whether a peer may send `code` in a close frame (RFC 6455 7.4): the
/// defined codes 1000-1003 and 1007-1011, the IANA-registered 1012-1014,
/// and the application ranges 3000-4999. Never 1004-1006 or 1015 (reserved
/// or local-only), nothing below 1000, 1016-2999 or from 5000 on.
pub fn is_valid_received(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_codes_follow_rfc_7_4() {
        let valid = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
        ];
        for code in valid {
            assert!(is_valid_received(code), "{code}");
        }
        assert!(is_valid_received(3000) && is_valid_received(4999));
        let invalid = [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for code in invalid {
            assert!(!is_valid_received(code), "{code}");
        }
    }

    #[test]
    fn codes_we_send_are_codes_a_peer_accepts() {
        let sent = [
            NORMAL,
            GOING_AWAY,
            PROTOCOL_ERROR,
            UNSUPPORTED_DATA,
            INVALID_PAYLOAD,
            POLICY,
            TOO_BIG,
            MANDATORY_EXTENSION,
            INTERNAL_ERROR,
            SERVICE_RESTART,
            TRY_AGAIN_LATER,
        ];
        assert!(sent.into_iter().all(is_valid_received));
        assert!(!is_valid_received(NO_STATUS) && !is_valid_received(ABNORMAL));
    }
}
