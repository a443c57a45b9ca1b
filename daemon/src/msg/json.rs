//! Writing JSON numbers and strings straight into a buffer (frames and HTTP bodies).

use bytes::BufMut;
#[cfg(test)]
use bytes::BytesMut;

/// Appends `n` in decimal.
#[inline]
pub fn put_int(buf: &mut impl BufMut, n: impl itoa::Integer) {
    buf.put_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `s` as a JSON string literal, quotes included. Only `"`, `\` and
/// control characters are escaped (RFC 8259 section 7); other text is UTF-8
/// already and is copied as is.
pub fn put_str(buf: &mut impl BufMut, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.put_slice(&bytes[copied..i]);
        copied = i + 1;
        if short.is_empty() {
            buf.put_slice(b"\\u00");
            buf.put_u8(HEX[usize::from(b >> 4)]);
            buf.put_u8(HEX[usize::from(b & 0xf)]);
        } else {
            buf.put_slice(short);
        }
    }
    buf.put_slice(&bytes[copied..]);
    buf.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut buf = BytesMut::new();
        put_str(&mut buf, s);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(quoted("plain"), r#""plain""#);
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(
            quoted("l1\nl2\t\r\u{1}\u{1f}"),
            r#""l1\nl2\t\r\u0001\u001f""#
        );
        assert_eq!(quoted("héllo ✓"), "\"héllo ✓\"");
    }

    #[test]
    fn escaped_strings_read_back_unchanged() {
        let s = "\"quoted\"\\ \u{0}\u{7f} \u{2028} 漢字\n";
        let mut json = quoted(s).into_bytes();
        let back: String = simd_json::from_slice(&mut json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn integers_are_decimal() {
        let mut buf = BytesMut::new();
        put_int(&mut buf, i64::MIN);
        put_int(&mut buf, b' ');
        put_int(&mut buf, u64::MAX);
        assert_eq!(&buf[..], b"-92233720368547758083218446744073709551615");
    }
}
