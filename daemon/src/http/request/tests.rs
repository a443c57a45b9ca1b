use super::*;

const HANDSHAKE: &[u8] = b"GET /chat?id=42&token=t HTTP/1.1\r\n\
Host: im.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
Origin: https://im.example.com\r\n\
\r\n";

fn complete(buf: &[u8]) -> (RequestHead, usize) {
    match parse_head(buf) {
        Ok(Parsed::Complete { head, len }) => (head, len),
        other => panic!("expected a complete head, got {other:?}"),
    }
}

fn err(buf: &[u8]) -> HeadError {
    match parse_head(buf) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn websocket_handshake() {
    let (head, len) = complete(HANDSHAKE);
    assert_eq!(len, HANDSHAKE.len());
    assert_eq!(head.method, Method::Get);
    assert_eq!(head.path, "/chat");
    assert_eq!(head.query, "id=42&token=t");
    assert_eq!(head.version_minor, 1);
    assert!(head.keep_alive);
    assert_eq!(head.content_length, 0);
    assert!(head.upgrade_websocket);
    assert!(head.connection_upgrade);
    assert_eq!(head.ws_key.as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(head.ws_version.as_deref(), Some("13"));
    assert_eq!(head.origin.as_deref(), Some("https://im.example.com"));
    assert_eq!(head.host.as_deref(), Some("im.example.com"));
}

#[test]
fn every_prefix_is_partial() {
    for n in 0..HANDSHAKE.len() {
        assert_eq!(
            parse_head(&HANDSHAKE[..n]),
            Ok(Parsed::Partial),
            "prefix of {n} bytes"
        );
    }
}

#[test]
fn oversized_head_is_413() {
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
    buf.resize(MAX_HEAD_BYTES - 1, b'a');
    assert_eq!(parse_head(&buf), Ok(Parsed::Partial));
    buf.push(b'a');
    assert_eq!(err(&buf), HeadError::TooLarge);
    assert_eq!(HeadError::TooLarge.status(), 413);
    buf.extend_from_slice(b"\r\n\r\n");
    assert_eq!(err(&buf), HeadError::TooLarge);
}

#[test]
fn head_of_exactly_the_limit_is_accepted() {
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
    buf.resize(MAX_HEAD_BYTES - 4, b'a');
    buf.extend_from_slice(b"\r\n\r\n");
    let (_, len) = complete(&buf);
    assert_eq!(len, MAX_HEAD_BYTES);
}

#[test]
fn complete_head_followed_by_more_than_the_limit_is_fine() {
    let mut buf = HANDSHAKE.to_vec();
    buf.resize(3 * MAX_HEAD_BYTES, 0x81);
    assert_eq!(complete(&buf).1, HANDSHAKE.len());
}

#[test]
fn too_many_headers_is_431() {
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..MAX_HEADERS {
        buf.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    let e = err(&buf);
    assert_eq!(e, HeadError::TooManyHeaders);
    assert_eq!(e.status(), 431);
}

#[test]
fn pipelined_requests_are_found_by_len() {
    let first = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    let second = b"POST /user/login HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    let third = b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut buf = first.to_vec();
    buf.extend_from_slice(second);
    buf.extend_from_slice(b"a=b&c");
    buf.extend_from_slice(third);

    let (h1, len1) = complete(&buf);
    assert_eq!((h1.path.as_str(), len1), ("/healthz", first.len()));
    let rest = &buf[len1..];
    let (h2, len2) = complete(rest);
    assert_eq!(
        (h2.method, h2.path.as_str(), len2),
        (Method::Post, "/user/login", second.len())
    );
    assert_eq!(h2.content_length, 5);
    let body_end = len2 + h2.content_length as usize;
    assert_eq!(&rest[len2..body_end], b"a=b&c");
    let (h3, len3) = complete(&rest[body_end..]);
    assert_eq!((h3.path.as_str(), len3), ("/metrics", third.len()));
}

#[test]
fn keep_alive_defaults_by_version() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
            true,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
        ),
    ];
    for (buf, want) in cases {
        let (head, _) = complete(buf);
        assert_eq!(head.keep_alive, *want, "{}", String::from_utf8_lossy(buf));
    }
    assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").0.version_minor, 0);
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let buf = b"GET /chat HTTP/1.1\r\n\
HOST: a\r\n\
uPgRaDe: WebSocket\r\n\
connection: keep-alive, UPGRADE\r\n\
SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\n\
sec-websocket-version: 13\r\n\
oRiGiN: http://x\r\n\r\n";
    let (head, _) = complete(buf);
    assert!(head.upgrade_websocket);
    assert!(head.connection_upgrade);
    assert!(head.keep_alive);
    assert_eq!(head.ws_key.as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(head.ws_version.as_deref(), Some("13"));
    assert_eq!(head.origin.as_deref(), Some("http://x"));
    assert_eq!(head.host.as_deref(), Some("a"));
}

#[test]
fn connection_tokens_across_several_headers() {
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket\r\n\r\n";
    let (head, _) = complete(buf);
    assert!(head.connection_upgrade);
    assert!(head.upgrade_websocket);
    // "upgrade" must be a whole token, not a substring.
    let (head, _) = complete(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgraded\r\n\r\n");
    assert!(!head.connection_upgrade);
}

#[test]
fn values_are_trimmed() {
    let (head, _) =
        complete(b"GET / HTTP/1.1\r\nHost:   a:80  \r\nSec-WebSocket-Version:\t13\t\r\n\r\n");
    assert_eq!(head.host.as_deref(), Some("a:80"));
    assert_eq!(head.ws_version.as_deref(), Some("13"));
}

#[test]
fn repeated_ws_version_is_joined() {
    let (head, _) = complete(
        b"GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    assert_eq!(head.ws_version.as_deref(), Some("13, 8"));
}

#[test]
fn duplicate_single_headers_are_400() {
    for (extra, name) in [
        ("Origin: https://a\r\nOrigin: https://b\r\n", "Origin"),
        ("Host: b\r\n", "Host"),
        (
            "Sec-WebSocket-Key: x\r\nsec-websocket-key: y\r\n",
            "Sec-WebSocket-Key",
        ),
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: a\r\n{extra}\r\n");
        let e = err(buf.as_bytes());
        assert_eq!(e, HeadError::DuplicateHeader(name));
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn http11_without_host_is_400() {
    let e = err(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!((e, e.status()), (HeadError::MissingHost, 400));
}

#[test]
fn content_length() {
    let (head, _) = complete(b"POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 12\r\n\r\n");
    assert_eq!(head.content_length, 12);
    let (head, _) = complete(
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n",
    );
    assert_eq!(head.content_length, 7);
    for bad in [
        "+5",
        "-1",
        "5, 6",
        "0x10",
        "",
        "1 2",
        "99999999999999999999999",
    ] {
        let buf = format!("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {bad}\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), HeadError::BadContentLength, "{bad:?}");
    }
    let e = err(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    assert_eq!((e, e.status()), (HeadError::BadContentLength, 400));
}

#[test]
fn chunked_bodies_are_refused() {
    let e = err(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!((e, e.status()), (HeadError::TransferEncoding, 411));
    let e = err(
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    );
    assert_eq!(e.status(), 400);
}

#[test]
fn malformed_heads_are_400() {
    for bad in [
        &b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let e = err(bad);
        assert!(matches!(e, HeadError::Malformed(_)), "{bad:?}: {e:?}");
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn other_http_versions_are_505() {
    for bad in [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        b"GET / HTTP/3",
    ] {
        let e = err(bad);
        assert_eq!((e, e.status()), (HeadError::UnsupportedVersion, 505));
    }
    assert!(matches!(
        err(b"GET / HTTX/1.1\r\n\r\n"),
        HeadError::Malformed(_)
    ));
}

#[test]
fn non_utf8_value_of_a_used_header_is_400() {
    let e = err(b"GET / HTTP/1.1\r\nHost: a\r\nOrigin: http://\xff\r\n\r\n");
    assert_eq!((e, e.status()), (HeadError::InvalidHeader("Origin"), 400));
    // Headers imedge ignores may carry any obs-text.
    complete(b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: \xe4\xbd\xa0\r\n\r\n");
}

#[test]
fn methods() {
    for (m, want) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("get", Method::Other("get".into())),
        ("PATCH", Method::Other("PATCH".into())),
    ] {
        let buf = format!("{m} / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (head, _) = complete(buf.as_bytes());
        assert_eq!(head.method.as_str(), m);
        assert_eq!(head.method, want);
    }
}

#[test]
fn request_targets() {
    for (target, path, query) in [
        ("/", "/", ""),
        ("/chat?", "/chat", ""),
        ("/chat?id=1&token=a%2Eb", "/chat", "id=1&token=a%2Eb"),
        ("http://im.example.com/chat?id=1", "/chat", "id=1"),
        ("HTTPS://im.example.com:443", "/", ""),
        ("http://im.example.com?id=1", "/", "id=1"),
        ("*", "*", ""),
    ] {
        let buf = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        let (head, _) = complete(buf.as_bytes());
        assert_eq!(
            (head.path.as_str(), head.query.as_str()),
            (path, query),
            "{target}"
        );
    }
}

#[test]
fn leading_empty_lines_are_skipped_and_counted() {
    let buf = b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(complete(buf).1, buf.len());
}

#[test]
fn every_error_has_a_status_and_label() {
    for e in [
        HeadError::TooLarge,
        HeadError::TooManyHeaders,
        HeadError::Malformed("x"),
        HeadError::UnsupportedVersion,
        HeadError::MissingHost,
        HeadError::DuplicateHeader("Host"),
        HeadError::InvalidHeader("Host"),
        HeadError::BadContentLength,
        HeadError::TransferEncoding,
    ] {
        assert!((400..=505).contains(&e.status()));
        assert!(!e.reason().is_empty());
        assert!(!e.to_string().is_empty());
    }
}
