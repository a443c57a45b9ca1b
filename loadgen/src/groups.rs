//! Creating the run's groups through imedge's HTTP API: the first member
//! of each group creates it (`POST /contact/createcommunity`), the others
//! join (`POST /contact/joincommunity`). One keep-alive connection,
//! blocking: this happens once, before any user connects.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::plan::Plan;
use crate::target::{Target, Tokens};

/// A small blocking HTTP/1.1 client that reconnects when the server closes.
struct Http<'a> {
    target: &'a Target,
    conn: Option<TcpStream>,
}

impl Http<'_> {
    /// POSTs a form body; returns the status and the response body.
    fn post(&mut self, path: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        // One retry: a kept-alive connection may have been closed meanwhile.
        for attempt in 0..2 {
            match self.try_post(path, body) {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 0 => {
                    self.conn = None;
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    fn try_post(&mut self, path: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        if self.conn.is_none() {
            let s = TcpStream::connect_timeout(&self.target.addr, Duration::from_secs(10))
                .with_context(|| format!("connecting to {}", self.target.addr))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.set_nodelay(true)?;
            self.conn = Some(s);
        }
        let s = self.conn.as_mut().expect("connected above");
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
            self.target.host,
            body.len()
        );
        s.write_all(req.as_bytes())?;
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 4096];
        let (status, head_len, body_len, close) = loop {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                bail!("{path}: connection closed before the answer");
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) = resp.parse(&buf)? {
                let header = |name: &str| {
                    resp.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
                };
                let body_len: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let close = header("connection").is_some_and(|v| v == "close");
                break (resp.code.unwrap_or(0), len, body_len, close);
            }
        };
        while buf.len() < head_len + body_len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                bail!("{path}: connection closed inside the body");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        if close {
            self.conn = None;
        }
        Ok((status, buf[head_len..head_len + body_len].to_vec()))
    }
}

/// Creates `count` groups of the plan's layout (group `g` = users
/// `g*size..`); returns their ids.
pub fn create(
    target: &Target,
    tokens: &Tokens,
    base: i64,
    users: usize,
    size: usize,
    count: usize,
) -> anyhow::Result<Vec<i64>> {
    let mut http = Http { target, conn: None };
    let run = crate::stats::now_us() / 1_000_000;
    let mut gids = Vec::with_capacity(count);
    for g in 0..count {
        let first = g * size;
        let owner = base + first as i64;
        let body = format!(
            "userid={owner}&token={}&name=loadgen-{run}-{g}",
            tokens.token(owner)?
        );
        let (status, answer) = http.post("/contact/createcommunity", &body)?;
        if status != 200 {
            bail!(
                "creating group {g} as user {owner}: HTTP {status} {}",
                String::from_utf8_lossy(&answer)
            );
        }
        let gid = crate::proto::inbound_id(&answer)
            .with_context(|| format!("no group id in {}", String::from_utf8_lossy(&answer)))?;
        for i in first + 1..(first + size).min(users) {
            let uid = base + i as i64;
            let body = format!("userid={uid}&token={}&dstid={gid}", tokens.token(uid)?);
            let (status, answer) = http.post("/contact/joincommunity", &body)?;
            if status != 200 {
                bail!(
                    "user {uid} joining group {gid}: HTTP {status} {}",
                    String::from_utf8_lossy(&answer)
                );
            }
        }
        gids.push(gid);
    }
    Ok(gids)
}

/// The group ids of a plan, from the HTTP API or, for the peers, by rule.
pub fn for_run(
    args: &crate::cli::Args,
    target: &Target,
    tokens: &Tokens,
) -> anyhow::Result<Vec<i64>> {
    let count = Plan::group_count(args);
    if args.peer {
        return Ok(Plan::peer_gids(args));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    create(
        target,
        tokens,
        args.uid_base(),
        args.users,
        args.group_size.max(1),
        count,
    )
}
