//! Response bytes: a status line, the few headers imedge sends, a body.
//!
//! There is no `Date` header: these answers are never cached, and leaving it
//! out keeps the builders free of clocks.

/// A JSON error answer: body `{"code":-1,"msg":"<msg>"}` (PROTOCOL.md
/// section 1). A 426 also carries `Sec-WebSocket-Version: 13` (RFC 6455 4.4).
pub fn json_error(status: u16, msg: &str, keep_alive: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(msg.len() + 24);
    body.extend_from_slice(br#"{"code":-1,"msg":"#);
    crate::msg::json::put_str(&mut body, msg);
    body.push(b'}');
    let extra: &[u8] = if status == 426 {
        b"Sec-WebSocket-Version: 13\r\n"
    } else {
        b""
    };
    build(status, "application/json", extra, &body, keep_alive)
}

/// A JSON answer whose body the caller has already serialized.
pub fn json_ok(status: u16, body: &[u8], keep_alive: bool) -> Vec<u8> {
    build(status, "application/json", b"", body, keep_alive)
}

/// Any other body, e.g. `/metrics` as `text/plain; version=0.0.4`.
pub fn text(status: u16, content_type: &str, body: &[u8], keep_alive: bool) -> Vec<u8> {
    build(status, content_type, b"", body, keep_alive)
}

/// Any body with `extra` header lines (each ending in `\r\n`), e.g. the web
/// client's caching and Content-Security-Policy headers.
pub fn with_headers(
    status: u16,
    content_type: &str,
    extra: &[u8],
    body: &[u8],
    keep_alive: bool,
) -> Vec<u8> {
    build(status, content_type, extra, body, keep_alive)
}

/// The 101 answer that completes a WebSocket handshake; `accept` is the
/// ready-made `Sec-WebSocket-Accept` value for the client's key.
pub fn switching_protocols(accept: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(129);
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// The reason phrase for a status imedge sends; empty (which HTTP allows)
/// for others.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

fn build(status: u16, content_type: &str, extra: &[u8], body: &[u8], keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + extra.len() + body.len());
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(num.format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(num.format(body.len()).as_bytes());
    // Always explicit: an HTTP/1.0 client assumes close unless told keep-alive.
    out.extend_from_slice(if keep_alive {
        b"\r\nConnection: keep-alive\r\n"
    } else {
        b"\r\nConnection: close\r\n"
    });
    out.extend_from_slice(extra);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(resp: &[u8]) -> (String, Vec<u8>) {
        let s = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head end")
            + 4;
        (
            String::from_utf8(resp[..s].to_vec()).unwrap(),
            resp[s..].to_vec(),
        )
    }

    #[test]
    fn json_error_shape() {
        let (head, body) = split(&json_error(400, "bad id", false));
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: application/json\r\n"));
        assert!(head.contains("\r\nContent-Length: 26\r\n"));
        assert!(head.contains("\r\nConnection: close\r\n"));
        assert!(!head.contains("Sec-WebSocket-Version"));
        assert_eq!(body, br#"{"code":-1,"msg":"bad id"}"#.to_vec());
    }

    #[test]
    fn json_error_escapes_the_message() {
        let (_, body) = split(&json_error(400, "a \"q\" \\ \n\u{1}你", true));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"code":-1,"msg":"a \"q\" \\ \n\u0001你"}"#
        );
    }

    #[test]
    fn content_length_matches_body() {
        for resp in [
            json_error(403, "origin not allowed", true),
            json_ok(200, br#"{"code":0,"msg":"","data":null}"#, true),
            text(200, "text/plain; version=0.0.4", b"imedge_up 1\n", false),
            text(204, "text/plain", b"", true),
            with_headers(
                200,
                "text/css",
                b"Cache-Control: no-cache\r\n",
                b"a{}",
                true,
            ),
        ] {
            let (head, body) = split(&resp);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(len, body.len(), "{head}");
        }
    }

    #[test]
    fn keep_alive_header() {
        assert!(split(&json_ok(200, b"{}", true))
            .0
            .contains("\r\nConnection: keep-alive\r\n"));
        assert!(split(&json_ok(200, b"{}", false))
            .0
            .contains("\r\nConnection: close\r\n"));
    }

    #[test]
    fn wrong_version_answer_names_13() {
        let (head, _) = split(&json_error(426, "unsupported WebSocket version", false));
        assert!(head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(head.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn metrics_text() {
        let resp = text(200, "text/plain; version=0.0.4", b"x 1\n", true);
        let (head, body) = split(&resp);
        assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4\r\n"));
        assert_eq!(body, b"x 1\n");
    }

    #[test]
    fn switching_protocols_answer() {
        let resp = switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            resp,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
                .to_vec()
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(503), "Service Unavailable");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(299), "");
        let (head, _) = split(&text(299, "text/plain", b"", false));
        assert!(head.starts_with("HTTP/1.1 299 \r\n"));
    }
}
