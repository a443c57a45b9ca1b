//! Connection tokens (PROTOCOL.md section 1): `<uid>.<expires>.<mac>`, where
//! `mac` is base64url (no padding) of HMAC-SHA256 under the cluster secret
//! over `<uid>.<expires>`. Any node with the secret checks a token without a
//! database; the loadgen mints them the same way.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the encoded MAC: 32 bytes in unpadded base64.
const MAC_B64_LEN: usize = 43;

/// Why a token was refused (every case answers the handshake with 401).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `<uid>.<expires>.<base64url mac>`.
    #[error("token is malformed")]
    Malformed,
    /// Validly signed, but for another user.
    #[error("token was issued for another user")]
    WrongUser,
    /// Validly signed, but past its expiry time.
    #[error("token has expired")]
    Expired,
    /// The MAC does not match: forged, altered, or signed with another secret.
    #[error("token signature is invalid")]
    BadSignature,
}

fn mac(secret: &[u8], signed: &str) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(signed.as_bytes());
    mac
}

/// Issues a token for `uid`, valid until `expires_unix` (seconds).
#[must_use]
pub fn mint(secret: &[u8], uid: i64, expires_unix: u64) -> String {
    let mut token = format!("{uid}.{expires_unix}");
    let tag = mac(secret, &token).finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    token
}

/// Checks that `token` was minted with `secret` for `uid` and has not
/// expired at `now_unix` (it is valid up to, not including, its expiry
/// second). The MAC is checked first and in constant time, so a forged
/// token is reported as such and its claims are never judged. No allocation.
///
/// # Errors
/// The first [`TokenError`] found, in the order: malformed, bad
/// signature, wrong user, expired.
pub fn verify(secret: &[u8], token: &str, uid: i64, now_unix: u64) -> Result<(), TokenError> {
    let (signed, tag_b64) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (uid_str, expires_str) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    let claimed_uid: i64 = decimal(uid_str, true)?;
    let expires: u64 = decimal(expires_str, false)?;
    if tag_b64.len() != MAC_B64_LEN {
        return Err(TokenError::Malformed);
    }
    // decode_slice wants room for its length estimate (33 bytes), not just 32.
    let mut tag = [0u8; 36];
    let len = URL_SAFE_NO_PAD
        .decode_slice(tag_b64, &mut tag)
        .map_err(|_| TokenError::Malformed)?;
    mac(secret, signed)
        .verify_slice(&tag[..len])
        .map_err(|_| TokenError::BadSignature)?;
    if claimed_uid != uid {
        return Err(TokenError::WrongUser);
    }
    if now_unix >= expires {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// Parses digits (and a leading `-` when `signed`), refusing the `+` and
/// whitespace that `str::parse` would let through.
fn decimal<T: std::str::FromStr>(s: &str, signed: bool) -> Result<T, TokenError> {
    let digits = match s.strip_prefix('-') {
        Some(rest) if signed => rest,
        _ => s,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Malformed);
    }
    s.parse().map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"cluster secret";
    const NOW: u64 = 1_700_000_000;

    #[test]
    fn a_minted_token_verifies() {
        let token = mint(SECRET, 42, NOW + 60);
        assert!(token.starts_with("42.1700000060."));
        assert_eq!(token.len(), "42.1700000060.".len() + MAC_B64_LEN);
        assert_eq!(verify(SECRET, &token, 42, NOW), Ok(()));
    }

    #[test]
    fn the_mac_matches_an_independent_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe".
        let tag = mac(b"Jefe", "what do ya want for nothing?")
            .finalize()
            .into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn another_user_is_refused() {
        let token = mint(SECRET, 42, NOW + 60);
        assert_eq!(verify(SECRET, &token, 43, NOW), Err(TokenError::WrongUser));
    }

    #[test]
    fn expiry_is_exclusive() {
        let token = mint(SECRET, 42, NOW);
        assert_eq!(verify(SECRET, &token, 42, NOW - 1), Ok(()));
        assert_eq!(verify(SECRET, &token, 42, NOW), Err(TokenError::Expired));
    }

    #[test]
    fn altered_or_foreign_tokens_fail_the_signature() {
        let token = mint(SECRET, 42, NOW + 60);
        assert_eq!(
            verify(b"other secret", &token, 42, NOW),
            Err(TokenError::BadSignature)
        );
        let longer = token.replacen("1700000060", "1800000060", 1);
        assert_eq!(
            verify(SECRET, &longer, 42, NOW),
            Err(TokenError::BadSignature)
        );
        // A forged token for another user says "bad signature", not "wrong user".
        let other = token.replacen("42.", "43.", 1);
        assert_eq!(
            verify(SECRET, &other, 42, NOW),
            Err(TokenError::BadSignature)
        );
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 5;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            verify(SECRET, &flipped, 42, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_named_so() {
        let token = mint(SECRET, 42, NOW + 60);
        let tag = token.rsplit('.').next().unwrap();
        for bad in [
            String::new(),
            "42".into(),
            "42.1700000060".into(),
            format!("42.{tag}"),
            format!("+42.1700000060.{tag}"),
            format!(" 42.1700000060.{tag}"),
            format!("42.-1.{tag}"),
            format!("42..{tag}"),
            format!("42.1700000060.{tag}="),
            format!("42.1700000060.{}", &tag[1..]),
            format!("42.1700000060.{}+", &tag[1..]),
            format!("42.1.1700000060.{tag}"),
            format!("99999999999999999999.1.{tag}"),
        ] {
            assert_eq!(
                verify(SECRET, &bad, 42, NOW),
                Err(TokenError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn negative_uids_round_trip() {
        // Not valid connection ids, but mint and verify must agree on them.
        let token = mint(SECRET, -7, NOW + 1);
        assert_eq!(verify(SECRET, &token, -7, NOW), Ok(()));
    }
}
