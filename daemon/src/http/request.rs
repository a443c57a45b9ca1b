//! Request-head parsing: the bytes read so far in, a [`RequestHead`] (or
//! "need more bytes") out. Only the headers imedge acts on are kept.

/// Longest request head accepted: request line and headers, including the
/// blank line. A handshaking connection buffers at most this much.
pub const MAX_HEAD_BYTES: usize = 8192;

/// Most header fields read from one head (a browser handshake sends about
/// 15); the parser's table of them costs 32 bytes each on the stack.
pub const MAX_HEADERS: usize = 64;

/// Result of [`parse_head`] on the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
// Returned once per request and unpacked at once, never stored: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// The head is not complete yet: read more and parse again from the start.
    Partial,
    /// A whole head; `len` bytes of the buffer (through the blank line) are
    /// the head, and the body or the next pipelined request starts there.
    Complete {
        /// The parsed head.
        head: RequestHead,
        /// Bytes of the head including the final CRLF CRLF.
        len: usize,
    },
}

/// A request head that cannot be served; answer [`HeadError::status`] and
/// close, since where the next request would start is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// No complete head within [`MAX_HEAD_BYTES`].
    #[error("request head larger than {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    /// More than [`MAX_HEADERS`] header fields.
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    /// Not HTTP/1.x syntax; the detail says which part.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// A version other than HTTP/1.0 or HTTP/1.1 (e.g. the HTTP/2 preface).
    #[error("HTTP version not supported")]
    UnsupportedVersion,
    /// An HTTP/1.1 request without `Host` (RFC 9112 section 3.2).
    #[error("HTTP/1.1 request without a Host header")]
    MissingHost,
    /// A header that must appear once appeared more than once; a second
    /// `Origin` could otherwise slip past the origin check.
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// A header imedge uses has a value it cannot read (not UTF-8).
    #[error("invalid {0} header value")]
    InvalidHeader(&'static str),
    /// `Content-Length` is not a number, or repeated with different values.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// `Transfer-Encoding` (e.g. chunked) request bodies are not accepted.
    #[error("request bodies must carry Content-Length, not Transfer-Encoding")]
    TransferEncoding,
}

impl HeadError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge => 413,
            HeadError::TooManyHeaders => 431,
            HeadError::UnsupportedVersion => 505,
            HeadError::TransferEncoding => 411,
            HeadError::Malformed(_)
            | HeadError::MissingHost
            | HeadError::DuplicateHeader(_)
            | HeadError::InvalidHeader(_)
            | HeadError::BadContentLength => 400,
        }
    }

    /// A short fixed label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            HeadError::TooLarge => "head_too_large",
            HeadError::TooManyHeaders => "too_many_headers",
            HeadError::Malformed(_) => "malformed_head",
            HeadError::UnsupportedVersion => "http_version",
            HeadError::MissingHost => "missing_host",
            HeadError::DuplicateHeader(_) => "duplicate_header",
            HeadError::InvalidHeader(_) => "invalid_header",
            HeadError::BadContentLength => "bad_content_length",
            HeadError::TransferEncoding => "transfer_encoding",
        }
    }
}

/// Request methods imedge routes on; anything else is kept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// Any other method token, as sent.
    Other(String),
}

impl Method {
    fn from_token(s: &str) -> Method {
        // Methods are case-sensitive (RFC 9110 section 9.1): `get` is not GET.
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(s) => s,
        }
    }
}

/// What imedge needs from a request head; owned, so the read buffer can be
/// reused at once. About 200 bytes plus the strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request method.
    pub method: Method,
    /// The path, without the query (`/chat`); `*` for `OPTIONS *`.
    pub path: String,
    /// The query after `?`, still encoded (see [`super::query_param`]); empty when absent.
    pub query: String,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version_minor: u8,
    /// Whether the connection may serve another request: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// Body length from `Content-Length`; 0 when absent.
    pub content_length: u64,
    /// `Upgrade` lists the `websocket` protocol (case-insensitive).
    pub upgrade_websocket: bool,
    /// `Connection` lists the `upgrade` token (case-insensitive).
    pub connection_upgrade: bool,
    /// `Sec-WebSocket-Key`, trimmed; not yet validated.
    pub ws_key: Option<String>,
    /// `Sec-WebSocket-Version`, trimmed; repeated headers joined with `, `.
    pub ws_version: Option<String>,
    /// `Origin`, trimmed.
    pub origin: Option<String>,
    /// `Host`, trimmed.
    pub host: Option<String>,
    /// `Authorization`, trimmed (the HTTP API accepts `Bearer <token>`).
    pub authorization: Option<String>,
    /// `Content-Type`, trimmed.
    pub content_type: Option<String>,
}

/// Parses a request head from the front of `buf`: [`Parsed::Partial`] while
/// incomplete, [`HeadError::TooLarge`] once `buf` holds [`MAX_HEAD_BYTES`]
/// without a complete head. Bytes after the head are left to the caller.
pub fn parse_head(buf: &[u8]) -> Result<Parsed, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    // Never look past the limit, so a flood of bytes costs one bounded parse.
    let window = &buf[..buf.len().min(MAX_HEAD_BYTES)];
    let len = match req.parse(window) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if window.len() == MAX_HEAD_BYTES => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(e) => return Err(from_httparse(e, window)),
    };
    // httparse fills all three once it reports Complete.
    let (Some(method), Some(target), Some(version_minor)) = (req.method, req.path, req.version)
    else {
        return Err(HeadError::Malformed("request line"));
    };
    let (path, query) = split_target(target);
    let mut head = RequestHead {
        method: Method::from_token(method),
        path: path.to_owned(),
        query: query.to_owned(),
        version_minor,
        keep_alive: false,
        content_length: 0,
        upgrade_websocket: false,
        connection_upgrade: false,
        ws_key: None,
        ws_version: None,
        origin: None,
        host: None,
        authorization: None,
        content_type: None,
    };
    let mut conn = ConnectionTokens::default();
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("connection") {
            conn.add(value(h.value, "Connection")?);
        } else if name.eq_ignore_ascii_case("upgrade") {
            let v = value(h.value, "Upgrade")?;
            head.upgrade_websocket |= tokens(v).any(|t| t.eq_ignore_ascii_case("websocket"));
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(h.value)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(HeadError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            once(&mut head.ws_key, h.value, "Sec-WebSocket-Key")?;
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            let v = value(h.value, "Sec-WebSocket-Version")?;
            match &mut head.ws_version {
                Some(prev) => {
                    prev.push_str(", ");
                    prev.push_str(v);
                }
                None => head.ws_version = Some(v.to_owned()),
            }
        } else if name.eq_ignore_ascii_case("origin") {
            once(&mut head.origin, h.value, "Origin")?;
        } else if name.eq_ignore_ascii_case("host") {
            once(&mut head.host, h.value, "Host")?;
        } else if name.eq_ignore_ascii_case("authorization") {
            once(&mut head.authorization, h.value, "Authorization")?;
        } else if name.eq_ignore_ascii_case("content-type") {
            once(&mut head.content_type, h.value, "Content-Type")?;
        }
    }
    if transfer_encoding {
        // Both framings at once is the request-smuggling shape (RFC 9112 6.3).
        return Err(match content_length {
            Some(_) => HeadError::Malformed("both Transfer-Encoding and Content-Length"),
            None => HeadError::TransferEncoding,
        });
    }
    if version_minor >= 1 && head.host.is_none() {
        return Err(HeadError::MissingHost);
    }
    head.content_length = content_length.unwrap_or(0);
    head.connection_upgrade = conn.upgrade;
    head.keep_alive = if version_minor >= 1 {
        !conn.close
    } else {
        conn.keep_alive && !conn.close
    };
    Ok(Parsed::Complete { head, len })
}

/// Splits a request target into path and query. The absolute form
/// (`http://host/chat?id=1`), which servers must accept (RFC 9112 3.2.2),
/// is reduced to its path.
fn split_target(target: &str) -> (&str, &str) {
    let origin_form = match scheme_len(target) {
        Some(n) => {
            let rest = &target[n..];
            // "http://host" and "http://host?q" have an empty path, read as "/".
            rest.find(['/', '?']).map_or("", |i| &rest[i..])
        }
        None => target,
    };
    let (path, query) = origin_form.split_once('?').unwrap_or((origin_form, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

fn scheme_len(target: &str) -> Option<usize> {
    ["http://", "https://"]
        .into_iter()
        .find(|s| target.len() >= s.len() && target[..s.len()].eq_ignore_ascii_case(s))
        .map(str::len)
}

#[derive(Default)]
struct ConnectionTokens {
    close: bool,
    keep_alive: bool,
    upgrade: bool,
}

impl ConnectionTokens {
    fn add(&mut self, v: &str) {
        for t in tokens(v) {
            if t.eq_ignore_ascii_case("close") {
                self.close = true;
            } else if t.eq_ignore_ascii_case("keep-alive") {
                self.keep_alive = true;
            } else if t.eq_ignore_ascii_case("upgrade") {
                self.upgrade = true;
            }
        }
    }
}

/// The elements of a comma-separated header list, trimmed, empties skipped.
fn tokens(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|t| !t.is_empty())
}

fn value<'a>(raw: &'a [u8], name: &'static str) -> Result<&'a str, HeadError> {
    std::str::from_utf8(raw)
        .map(|s| s.trim_matches([' ', '\t']))
        .map_err(|_| HeadError::InvalidHeader(name))
}

fn once(slot: &mut Option<String>, raw: &[u8], name: &'static str) -> Result<(), HeadError> {
    if slot.is_some() {
        return Err(HeadError::DuplicateHeader(name));
    }
    *slot = Some(value(raw, name)?.to_owned());
    Ok(())
}

/// One `Content-Length` field; a list of identical values (`5, 5`) is allowed
/// by RFC 9112 section 6.3, anything else that is not digits is refused.
fn parse_content_length(raw: &[u8]) -> Result<u64, HeadError> {
    let v = value(raw, "Content-Length").map_err(|_| HeadError::BadContentLength)?;
    let mut found: Option<u64> = None;
    for t in v.split(',').map(str::trim) {
        // u64::from_str would accept a leading `+`, which HTTP does not.
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HeadError::BadContentLength);
        }
        let n: u64 = t.parse().map_err(|_| HeadError::BadContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(HeadError::BadContentLength);
        }
        found = Some(n);
    }
    found.ok_or(HeadError::BadContentLength)
}

fn from_httparse(e: httparse::Error, buf: &[u8]) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        // httparse says "version" for `GET /a b HTTP/1.1` too; only a third
        // request-line word that starts like a version is one we do not speak.
        httparse::Error::Version if third_word(buf).starts_with(b"HTTP/") => {
            HeadError::UnsupportedVersion
        }
        httparse::Error::Version => HeadError::Malformed("request line"),
        httparse::Error::HeaderName => HeadError::Malformed("header name"),
        httparse::Error::HeaderValue => HeadError::Malformed("header value"),
        httparse::Error::NewLine => HeadError::Malformed("line ending"),
        httparse::Error::Token => HeadError::Malformed("request line"),
        httparse::Error::Status => HeadError::Malformed("status"),
    }
}

fn third_word(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = buf[start..]
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    line.split(|&b| b == b' ').nth(2).unwrap_or_default()
}

#[cfg(test)]
mod tests;
