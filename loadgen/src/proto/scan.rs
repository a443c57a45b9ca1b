//! Reading a few integer fields out of a server frame without a JSON parser:
//! the server's frames are objects whose keys appear once, and the loadgen's
//! own content never contains a quote, so a key search cannot be fooled by
//! our messages.

use memchr::memmem;

/// The integer after `"key":` at its first occurrence in `frame`.
pub fn int_after(frame: &[u8], key: &[u8]) -> Option<i64> {
    let at = memmem::find(frame, key)?;
    int_at(&frame[at + key.len()..])
}

/// The integer after `"key":` at its last occurrence in `frame` (the
/// fields a server appends, like `seq`, are at the end).
pub fn int_after_last(frame: &[u8], key: &[u8]) -> Option<i64> {
    let at = memmem::rfind(frame, key)?;
    int_at(&frame[at + key.len()..])
}

/// An optionally signed decimal at the front of `s`, after spaces.
pub fn int_at(s: &[u8]) -> Option<i64> {
    let s = s.trim_ascii_start();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in &s[..digits] {
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

/// The raw bytes of the string value after `"key":"`, up to its closing
/// quote (escapes are not decoded; our content has none).
pub fn str_after<'a>(frame: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = memmem::find(frame, key)? + key.len();
    let rest = &frame[at..];
    let end = memchr::memchr(b'"', rest)?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_after_keys() {
        let f = br#"{"cmd":21,"id":-4,"code": 429,"seq":1,"x":{"seq":9}}"#;
        assert_eq!(int_after(f, br#""cmd":"#), Some(21));
        assert_eq!(int_after(f, br#""id":"#), Some(-4));
        assert_eq!(int_after(f, br#""code":"#), Some(429));
        assert_eq!(int_after_last(f, br#""seq":"#), Some(9));
        assert_eq!(int_after(f, br#""nope":"#), None);
        assert_eq!(
            str_after(br#"{"content":"ab:c","z":1}"#, br#""content":""#),
            Some(&b"ab:c"[..])
        );
    }
}
