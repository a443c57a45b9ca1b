//! Request bodies of the HTTP API: `application/x-www-form-urlencoded` (as
//! the seed front ends send) or a flat JSON object, read into named fields.

use super::query::pairs;

/// Why a body could not be read; answered with 400 (415 for an unknown type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is not valid JSON.
    #[error("body is not valid JSON")]
    BadJson,
    /// The JSON body is not an object.
    #[error("JSON body must be an object")]
    NotObject,
    /// A JSON field holds an array or an object.
    #[error("field {0} must be a string or a number")]
    Nested(String),
    /// The body is not UTF-8.
    #[error("body is not UTF-8")]
    NotUtf8,
    /// The content type is neither form nor JSON.
    #[error("content type must be application/x-www-form-urlencoded or application/json")]
    UnsupportedType,
}

impl BodyError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::UnsupportedType => 415,
            _ => 400,
        }
    }
}

/// Named text fields of a body, in order; the first of a repeated name wins.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `body` according to `content_type` (form when absent or empty body).
pub fn parse_fields(content_type: Option<&str>, body: &[u8]) -> Result<Fields, BodyError> {
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if body.is_empty() {
        return Ok(Fields::default());
    }
    match mime.as_str() {
        "application/json" => json_fields(body),
        "" | "application/x-www-form-urlencoded" => {
            let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
            Ok(Fields(
                pairs(text)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ))
        }
        _ => Err(BodyError::UnsupportedType),
    }
}

fn json_fields(body: &[u8]) -> Result<Fields, BodyError> {
    use simd_json::prelude::*;
    let mut copy = body.to_vec();
    let value = simd_json::to_owned_value(&mut copy).map_err(|_| BodyError::BadJson)?;
    let obj = value.as_object().ok_or(BodyError::NotObject)?;
    let mut out = Vec::with_capacity(obj.len());
    for (k, v) in obj.iter() {
        let text = if let Some(s) = v.as_str() {
            s.to_owned()
        } else if v.is_array() || v.is_object() {
            return Err(BodyError::Nested(k.to_string()));
        } else if v.is_null() {
            continue;
        } else {
            v.to_string()
        };
        out.push((k.to_string(), text));
    }
    Ok(Fields(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_decoded() {
        let f = parse_fields(
            Some("application/x-www-form-urlencoded"),
            b"name=a+b%21&dstid=7&name=x",
        )
        .unwrap();
        assert_eq!(f.get("name"), Some("a b!"));
        assert_eq!(f.get("dstid"), Some("7"));
        assert_eq!(f.get("nope"), None);
    }

    #[test]
    fn json_bodies_give_strings_and_numbers_as_text() {
        let f = parse_fields(
            Some("application/json; charset=utf-8"),
            br#"{"name":"r\u00e9","dstid":7,"x":null}"#,
        )
        .unwrap();
        assert_eq!(f.get("name"), Some("ré"));
        assert_eq!(f.get("dstid"), Some("7"));
        assert_eq!(f.get("x"), None);
    }

    #[test]
    fn bad_bodies_say_why() {
        assert_eq!(
            parse_fields(Some("application/json"), b"{"),
            Err(BodyError::BadJson)
        );
        assert_eq!(
            parse_fields(Some("application/json"), b"[1]"),
            Err(BodyError::NotObject)
        );
        assert_eq!(
            parse_fields(Some("application/json"), br#"{"a":[1]}"#),
            Err(BodyError::Nested("a".into()))
        );
        assert_eq!(
            parse_fields(Some("text/plain"), b"x").unwrap_err().status(),
            415
        );
        assert_eq!(parse_fields(None, b"\xff=1"), Err(BodyError::NotUtf8));
    }
}
