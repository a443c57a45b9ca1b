use super::*;
use crate::http::request::{parse_head, Parsed};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A valid handshake head with one line replaced or removed.
fn head_with(request_line: &str, headers: &[(&str, &str)]) -> RequestHead {
    let mut fields = vec![
        ("Host", "a"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
    ];
    for &(name, value) in headers {
        fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            fields.push((name, value));
        }
    }
    let mut s = format!("{request_line}\r\n");
    for (n, v) in fields {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    match parse_head(s.as_bytes()) {
        Ok(Parsed::Complete { head, .. }) => head,
        other => panic!("{s}: {other:?}"),
    }
}

fn valid() -> RequestHead {
    head_with("GET /chat?id=42&token=42.1700000000.sig HTTP/1.1", &[])
}

fn rejected(head: &RequestHead) -> Rejection {
    check_upgrade(head).expect_err("should be refused")
}

#[test]
fn valid_upgrade() {
    let req = check_upgrade(&valid()).unwrap();
    assert_eq!(
        req,
        UpgradeRequest {
            uid: 42,
            token: "42.1700000000.sig".into(),
            client_key: KEY.into(),
            origin: None,
        }
    );
    let with_origin = head_with(
        "GET /chat?token=t%2Ds&id=7 HTTP/1.1",
        &[("Origin", "https://im.example.com")],
    );
    let req = check_upgrade(&with_origin).unwrap();
    assert_eq!((req.uid, req.token.as_str()), (7, "t-s"));
    assert_eq!(req.origin.as_deref(), Some("https://im.example.com"));
}

#[test]
fn not_get_is_400() {
    let r = rejected(&head_with("POST /chat?id=1&token=t HTTP/1.1", &[]));
    assert_eq!((r.status, r.reason), (400, "bad_method"));
}

#[test]
fn http10_is_400() {
    let r = rejected(&head_with("GET /chat?id=1&token=t HTTP/1.0", &[]));
    assert_eq!((r.status, r.reason), (400, "bad_http_version"));
}

#[test]
fn missing_upgrade_header_is_400() {
    for value in ["", "h2c", "websocketx"] {
        let r = rejected(&head_with(
            "GET /chat?id=1&token=t HTTP/1.1",
            &[("Upgrade", value)],
        ));
        assert_eq!((r.status, r.reason), (400, "no_upgrade"), "{value:?}");
    }
}

#[test]
fn connection_without_upgrade_token_is_400() {
    for value in ["", "keep-alive", "close"] {
        let r = rejected(&head_with(
            "GET /chat?id=1&token=t HTTP/1.1",
            &[("Connection", value)],
        ));
        assert_eq!(
            (r.status, r.reason),
            (400, "no_connection_upgrade"),
            "{value:?}"
        );
    }
    // Firefox sends a list.
    check_upgrade(&head_with(
        "GET /chat?id=1&token=t HTTP/1.1",
        &[("Connection", "keep-alive, Upgrade")],
    ))
    .unwrap();
}

#[test]
fn bad_key_is_400() {
    for key in [
        "",
        "short",
        "dGhlIHNhbXBsZSBub25jZQ",       // no padding
        "dGhlIHNhbXBsZSBub25jZQ==AAAA", // 19 bytes
        "dGhlIHNhbXBsZSBub25jZ!==",     // not base64
        "dGhlIHNhbXBsZSBub25jZXM=",     // 17 bytes
    ] {
        let r = rejected(&head_with(
            "GET /chat?id=1&token=t HTTP/1.1",
            &[("Sec-WebSocket-Key", key)],
        ));
        assert_eq!((r.status, r.reason), (400, "bad_key"), "{key:?}");
    }
}

#[test]
fn wrong_or_missing_version_is_426() {
    for v in ["", "8", "12", "13, 8", "14"] {
        let r = rejected(&head_with(
            "GET /chat?id=1&token=t HTTP/1.1",
            &[("Sec-WebSocket-Version", v)],
        ));
        assert_eq!((r.status, r.reason), (426, "bad_ws_version"), "{v:?}");
        let resp = String::from_utf8(r.response(false)).unwrap();
        assert!(resp.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    }
}

#[test]
fn bad_id_is_400() {
    for q in [
        "token=t",
        "id=&token=t",
        "id=0&token=t",
        "id=-5&token=t",
        "id=%2B5&token=t",
        "id=abc&token=t",
        "id=1.5&token=t",
        "id=9223372036854775808&token=t",
        "id=%205&token=t",
    ] {
        let r = rejected(&head_with(&format!("GET /chat?{q} HTTP/1.1"), &[]));
        assert_eq!((r.status, r.reason), (400, "bad_id"), "{q}");
    }
    let max = head_with("GET /chat?id=9223372036854775807&token=t HTTP/1.1", &[]);
    assert_eq!(check_upgrade(&max).unwrap().uid, i64::MAX);
}

#[test]
fn missing_token_is_401() {
    for q in ["id=1", "id=1&token=", "id=1&token"] {
        let r = rejected(&head_with(&format!("GET /chat?{q} HTTP/1.1"), &[]));
        assert_eq!((r.status, r.reason), (401, "no_token"), "{q}");
    }
}

#[test]
fn checks_run_in_table_order() {
    // Not an upgrade and no id: the upgrade problem is reported.
    let r = rejected(&head_with("GET /chat HTTP/1.1", &[("Upgrade", "")]));
    assert_eq!(r.reason, "no_upgrade");
    // Wrong version and no id: 426 first.
    let r = rejected(&head_with(
        "GET /chat HTTP/1.1",
        &[("Sec-WebSocket-Version", "8")],
    ));
    assert_eq!(r.status, 426);
    // Bad key beats wrong version.
    let r = rejected(&head_with(
        "GET /chat HTTP/1.1",
        &[("Sec-WebSocket-Key", "x"), ("Sec-WebSocket-Version", "8")],
    ));
    assert_eq!(r.reason, "bad_key");
    // Bad id beats missing token.
    let r = rejected(&head_with("GET /chat?id=x HTTP/1.1", &[]));
    assert_eq!(r.reason, "bad_id");
}

#[test]
fn origin_allow_list() {
    let allowed = vec![
        "https://im.example.com".to_owned(),
        "http://localhost:8080".to_owned(),
    ];
    assert_eq!(
        check_origin(Some("https://im.example.com"), &allowed),
        Ok(())
    );
    assert_eq!(
        check_origin(Some("https://IM.Example.COM"), &allowed),
        Ok(())
    );
    assert_eq!(
        check_origin(Some("http://localhost:8080"), &allowed),
        Ok(())
    );
    assert_eq!(check_origin(None, &allowed), Ok(()));
    for bad in [
        "http://im.example.com",
        "https://im.example.com:8443",
        "https://evil.example.com",
        "https://im.example.com.evil.com",
        "http://localhost",
        "null",
    ] {
        let r = check_origin(Some(bad), &allowed).unwrap_err();
        assert_eq!((r.status, r.reason), (403, "bad_origin"), "{bad}");
    }
}

#[test]
fn no_allow_list_allows_every_origin() {
    assert_eq!(check_origin(Some("https://anything.example"), &[]), Ok(()));
    assert_eq!(check_origin(None, &[]), Ok(()));
}

#[test]
fn rejection_response_is_json() {
    let resp = String::from_utf8(BAD_ID.response(true)).unwrap();
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(resp.contains("\r\nConnection: keep-alive\r\n"));
    assert!(resp.ends_with(r#"{"code":-1,"msg":"id must be a positive 64-bit integer"}"#));
    assert_eq!(
        BAD_ID.to_string(),
        "400 bad_id: id must be a positive 64-bit integer"
    );
}
