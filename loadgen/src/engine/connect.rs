//! Opening one connection: a socket bound to the user's source address,
//! a non-blocking connect, the upgrade request and its 101 answer.

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Duration;

use monoio::net::TcpStream;
use monoio::time::{timeout_at, Instant};
use socket2::{Domain, Protocol, Socket, Type};

use super::Ctx;
use crate::sys;
use imedge::ws::handshake::{accept_key, client_key, client_request};

/// Largest upgrade answer accepted.
const MAX_HEAD: usize = 8 * 1024;

/// Why a connection could not be opened; [`Fail::reason`] is the report key.
#[derive(Debug)]
pub enum Fail {
    /// No answer within the connect timeout.
    Timeout,
    /// The server answered the upgrade with another status.
    Http(u16),
    /// The 101 answer did not carry the right `Sec-WebSocket-Accept`.
    BadAccept,
    /// The server closed before answering.
    Closed,
    /// A socket error.
    Io(io::Error),
}

impl Fail {
    /// A short, stable reason for the report.
    pub fn reason(&self) -> String {
        match self {
            Fail::Timeout => "timeout".into(),
            Fail::Http(s) => format!("http {s}"),
            Fail::BadAccept => "bad accept key".into(),
            Fail::Closed => "closed before upgrade".into(),
            Fail::Io(e) => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) => "refused".into(),
                Some(libc::ECONNRESET) => "reset".into(),
                Some(libc::EADDRNOTAVAIL) => "no free local port".into(),
                Some(libc::EMFILE | libc::ENFILE) => "too many open files".into(),
                _ => format!("io: {e}"),
            },
        }
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

/// An upgraded connection.
pub struct Opened {
    /// The stream.
    pub stream: TcpStream,
    /// Bytes received after the 101 head (the first frames, if any).
    pub leftover: Vec<u8>,
    /// TCP connect time, microseconds.
    pub connect_us: u64,
    /// Upgrade request to 101, microseconds.
    pub handshake_us: u64,
}

/// Connects user index `i` (id `uid`) and upgrades; `nonce` makes its key.
pub async fn open(ctx: &Ctx, i: usize, uid: i64, nonce: [u8; 16]) -> Result<Opened, Fail> {
    let target = ctx.target(i);
    let deadline = Instant::now() + ctx.connect_timeout;
    let t0 = Instant::now();
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    sock.set_nodelay(true)?;
    if !ctx.src_ips.is_empty() {
        let ip = ctx.src_ips[i % ctx.src_ips.len()];
        sys::bind_address_no_port(sock.as_raw_fd())?;
        sock.bind(&SocketAddr::V4(SocketAddrV4::new(ip, 0)).into())?;
    }
    match sock.connect(&target.addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e.into()),
    }
    let stream = TcpStream::from_std(std::net::TcpStream::from(sock))?;
    let fd = stream.as_raw_fd();
    timeout_at(deadline, stream.writable(false))
        .await
        .map_err(|_| Fail::Timeout)??;
    if let Some(e) = sys::take_error(fd)? {
        return Err(e.into());
    }
    let connect_us = t0.elapsed().as_micros() as u64;

    let t1 = Instant::now();
    let token = ctx
        .tokens
        .token(uid)
        .map_err(|e| Fail::Io(io::Error::other(e.to_string())))?;
    let key = client_key(nonce);
    let query = format!("{}?id={uid}&token={token}", target.path);
    let request = client_request(&target.host, &query, &key);
    send_all(&stream, request.as_bytes(), deadline).await?;
    let (head_len, buf) = read_head(&stream, deadline).await?;
    check_answer(&buf[..head_len], &key)?;
    Ok(Opened {
        stream,
        leftover: buf[head_len..].to_vec(),
        connect_us,
        handshake_us: t1.elapsed().as_micros() as u64,
    })
}

/// Sends all of `data`, waiting for writability when the socket is full.
pub async fn send_all(stream: &TcpStream, mut data: &[u8], deadline: Instant) -> Result<(), Fail> {
    let fd = stream.as_raw_fd();
    while !data.is_empty() {
        match sys::send(fd, data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                timeout_at(deadline, stream.writable(false))
                    .await
                    .map_err(|_| Fail::Timeout)??;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads until the end of the answer's head; returns its length and
/// everything read.
async fn read_head(stream: &TcpStream, deadline: Instant) -> Result<(usize, Vec<u8>), Fail> {
    let fd = stream.as_raw_fd();
    let mut buf = Vec::with_capacity(512);
    loop {
        match recv_into(fd, &mut buf) {
            Ok(0) => return Err(Fail::Closed),
            Ok(_) => {
                if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                    return Ok((end + 4, buf));
                }
                if buf.len() > MAX_HEAD {
                    return Err(Fail::Http(0));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                timeout_at(deadline, stream.readable(false))
                    .await
                    .map_err(|_| Fail::Timeout)??;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Appends what the socket has (up to 2 KiB) to `buf`. Not async, so its
/// scratch array lives on the stack, not in every connection's future.
fn recv_into(fd: std::os::fd::RawFd, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 2048];
    let n = sys::recv(fd, &mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Checks the status and the accept key of an upgrade answer's head.
fn check_answer(head: &[u8], key: &str) -> Result<(), Fail> {
    let mut headers = [httparse::EMPTY_HEADER; 24];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(Fail::Http(0)),
    }
    let status = resp.code.unwrap_or(0);
    if status != 101 {
        return Err(Fail::Http(status));
    }
    let want = accept_key(key.as_bytes());
    let ok = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("sec-websocket-accept")
            && h.value.trim_ascii() == want.as_bytes()
    });
    if ok {
        Ok(())
    } else {
        Err(Fail::BadAccept)
    }
}

/// A jitter in `0..max` from `r`, for spreading reconnects.
pub fn jitter(r: u64, max: Duration) -> Duration {
    let ms = max.as_millis().max(1) as u64;
    Duration::from_millis(r % ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_answer(ok, key).is_ok());
        let bad = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n";
        assert!(matches!(check_answer(bad, key), Err(Fail::BadAccept)));
        let busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(check_answer(busy, key), Err(Fail::Http(503))));
    }
}
