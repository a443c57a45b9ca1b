//! Query strings and `application/x-www-form-urlencoded` bodies.
//!
//! Decoding follows the WHATWG urlencoded parser, as browsers do: `+` is a
//! space, a `%` not followed by two hex digits stays as it is, and bytes that
//! do not form UTF-8 become U+FFFD. Nothing here fails, so a sloppy client gets
//! a "bad id" answer from the caller instead of an opaque parse error.

use std::borrow::Cow;

/// The first value of `name` in `query` (without the `?`), percent-decoded;
/// `None` when absent. A name without `=` has the empty value.
///
/// The first occurrence wins because nginx's `$arg_id`, which picks the node
/// a user is routed to, also takes the first.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    pairs(query).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Every `name=value` pair of a query string or form body, in order, both
/// sides decoded with [`form_decode`]. Empty pairs (`a=1&&b=2`) are skipped.
pub fn pairs(s: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    s.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (form_decode(k), form_decode(v))
    })
}

/// Decodes one urlencoded component: `%XX` escapes and `+` as space.
/// Borrows when there is nothing to decode.
pub fn form_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(b: Option<&u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_params_in_any_position() {
        let q = "id=42&token=abc.def&x=";
        assert_eq!(query_param(q, "id").as_deref(), Some("42"));
        assert_eq!(query_param(q, "token").as_deref(), Some("abc.def"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param("", "id"), None);
    }

    #[test]
    fn name_without_equals_has_empty_value() {
        assert_eq!(query_param("debug&id=1", "debug").as_deref(), Some(""));
    }

    #[test]
    fn first_occurrence_wins() {
        assert_eq!(query_param("id=1&id=2", "id").as_deref(), Some("1"));
    }

    #[test]
    fn name_must_match_exactly() {
        assert_eq!(query_param("uid=1&idx=2", "id"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(query_param("t=a%2Eb%2ec", "t").as_deref(), Some("a.b.c"));
        assert_eq!(
            query_param("n=hello+world%21", "n").as_deref(),
            Some("hello world!")
        );
        assert_eq!(
            query_param("n=%E4%BD%A0%E5%A5%BD", "n").as_deref(),
            Some("你好")
        );
        assert_eq!(query_param("n=a%26b%3Dc", "n").as_deref(), Some("a&b=c"));
        // Names are decoded too.
        assert_eq!(query_param("%69d=7", "id").as_deref(), Some("7"));
    }

    #[test]
    fn undecodable_input_is_kept_or_replaced() {
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn plain_values_are_borrowed() {
        assert!(matches!(form_decode("abc"), Cow::Borrowed("abc")));
        assert!(matches!(form_decode("a+b"), Cow::Owned(_)));
    }

    #[test]
    fn pairs_skips_empty_and_keeps_order() {
        let all: Vec<_> = pairs("a=1&&b=x+y&c").collect();
        assert_eq!(
            all,
            vec![
                (Cow::from("a"), Cow::from("1")),
                (Cow::from("b"), Cow::from("x y")),
                (Cow::from("c"), Cow::from("")),
            ]
        );
    }
}
