//! The cluster key: HMAC-SHA256 under the cluster secret, truncated to
//! [`MAC_LEN`] bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::header::MAC_LEN;

/// Shortest cluster secret accepted, as the config's own rule: 128 bits if
/// the text is random.
pub const MIN_SECRET_BYTES: usize = 16;

/// The secret is shorter than [`MIN_SECRET_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cluster secret has {0} bytes, at least {MIN_SECRET_BYTES} are needed")]
pub struct ShortSecret(pub usize);

/// A keyed HMAC state: the key schedule is computed once and cloned per
/// datagram.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl Key {
    /// The key for the cluster secret's bytes.
    pub fn new(secret: &[u8]) -> Result<Key, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret(secret.len()));
        }
        Ok(Key(
            Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length")
        ))
    }

    /// The truncated tag of `data`.
    pub fn tag(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.0.clone();
        mac.update(data);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(&full[..MAC_LEN]);
        tag
    }

    /// Whether `tag` is the truncated tag of `data`, compared in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        if tag.len() != MAC_LEN {
            return false;
        }
        let mut mac = self.0.clone();
        mac.update(data);
        mac.verify_truncated_left(tag).is_ok()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_verifies_and_depends_on_key_and_data() {
        let k = Key::new(b"0123456789abcdef").unwrap();
        let t = k.tag(b"hello");
        assert!(k.verify(b"hello", &t));
        assert!(!k.verify(b"hellp", &t));
        assert!(!k.verify(b"hello", &t[..15]));
        let other = Key::new(b"0123456789abcdeg").unwrap();
        assert!(!other.verify(b"hello", &t));
    }

    #[test]
    fn matches_rfc_4231_case_6_truncated() {
        // RFC 4231 test case 6: the only vectors with keys above our minimum.
        let k = Key::new(&[0xaa; 131]).unwrap();
        let t = k.tag(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            t,
            [
                0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5,
                0xb7, 0x7f
            ]
        );
    }

    #[test]
    fn short_secret_is_refused() {
        assert_eq!(Key::new(b"short").unwrap_err(), ShortSecret(5));
    }
}
