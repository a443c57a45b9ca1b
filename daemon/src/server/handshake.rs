//! The first task of every accepted socket: plain HTTP requests (with
//! keep-alive) and the `/chat` upgrade, after which the socket moves to the
//! core that owns its user.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::rc::Rc;

use bytes::Bytes;
use monoio::net::TcpStream;

use super::core::{Core, Pending};
use super::inbox::CoreMsg;
use super::shared::unix_secs;
use super::{conn, sys};
use crate::auth;
use crate::http::{self, Parsed, RequestHead};
use crate::route::core_of;
use crate::ws::handshake::accept_key;

/// Largest request body read (and discarded or served) on a plain request.
pub const MAX_BODY: u64 = 1024 * 1024;

/// Removes the handshake's deadline entry however the task ends.
struct Deadline<'a> {
    core: &'a Core,
    slot: usize,
}

impl Deadline<'_> {
    fn refresh(&self) {
        let at = self.core.shared.now_ms() + self.core.shared.config.handshake_timeout_ms;
        if let Some(p) = self.core.handshakes.borrow_mut().get_mut(self.slot) {
            p.deadline_ms = at;
        }
    }
}

impl Drop for Deadline<'_> {
    fn drop(&mut self) {
        self.core.handshakes.borrow_mut().try_remove(self.slot);
    }
}

/// Serves requests on a fresh socket until it closes or upgrades.
pub async fn serve(core: Rc<Core>, stream: TcpStream, peer: IpAddr) {
    let fd = stream.as_raw_fd();
    let deadline_ms = core.shared.now_ms() + core.shared.config.handshake_timeout_ms;
    let slot = core
        .handshakes
        .borrow_mut()
        .insert(Pending { fd, deadline_ms });
    let deadline = Deadline { core: &core, slot };
    let mut buf = Vec::new();
    loop {
        let (head, len) = match http::parse_head(&buf) {
            Ok(Parsed::Complete { head, len }) => (head, len),
            Ok(Parsed::Partial) => {
                if !read_more(&core, &stream, fd, &mut buf).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                core.counters().rejection(e.reason());
                let _ = send_all(
                    &stream,
                    &http::json_error(e.status(), &e.to_string(), false),
                )
                .await;
                return;
            }
        };
        if head.path == "/chat" {
            drop(deadline);
            // Boxed: the upgrade's state is large and short-lived; idle sockets waiting
            // for a request should not carry it.
            return Box::pin(upgrade(core, stream, head, buf.split_off(len))).await;
        }
        if head.content_length > MAX_BODY {
            core.counters().rejection("body_too_large");
            let _ = send_all(
                &stream,
                &http::json_error(413, "request body too large", false),
            )
            .await;
            return;
        }
        let end = len + head.content_length as usize;
        while buf.len() < end {
            if !read_more(&core, &stream, fd, &mut buf).await {
                return;
            }
        }
        core.counters()
            .http_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let keep_alive = head.keep_alive && !core.shared.draining();
        // Boxed for the same reason as the upgrade: idle sockets stay small.
        let response = Box::pin(super::routes::answer(
            &core,
            &head,
            &buf[len..end],
            peer,
            keep_alive,
        ))
        .await;
        if send_all(&stream, &response).await.is_err() || !keep_alive {
            return;
        }
        buf.drain(..end);
        deadline.refresh();
    }
}

/// Waits for and appends more request bytes; false at end of stream.
async fn read_more(core: &Core, stream: &TcpStream, fd: RawFd, buf: &mut Vec<u8>) -> bool {
    loop {
        if stream.readable(false).await.is_err() {
            return false;
        }
        let mut rbuf = core.rbuf.borrow_mut();
        let room = (http::MAX_HEAD_BYTES + MAX_BODY as usize + 1)
            .saturating_sub(buf.len())
            .clamp(1, rbuf.len());
        match sys::recv(fd, &mut rbuf[..room]) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&rbuf[..n]);
                return true;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                continue
            }
            Err(_) => return false,
        }
    }
}

/// Writes all of `bytes`, waiting for writability when the socket is full.
async fn send_all(stream: &TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let fd = stream.as_raw_fd();
    let mut off = 0;
    while off < bytes.len() {
        match sys::send_slices(fd, std::iter::once(&bytes[off..])) {
            Ok(n) => off += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => stream.writable(false).await?,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Refuses an upgrade with `status` and a JSON reason, counted under `label`.
async fn refuse(core: &Core, stream: &TcpStream, status: u16, label: &str, msg: &str) {
    core.counters().rejection(label);
    tracing::debug!(status, label, msg, "upgrade refused");
    let _ = send_all(stream, &http::json_error(status, msg, false)).await;
}

/// The `/chat` upgrade: every row of PROTOCOL.md section 1, then the handoff.
async fn upgrade(core: Rc<Core>, stream: TcpStream, head: RequestHead, pending: Vec<u8>) {
    let shared = core.shared.clone();
    let up = match http::check_upgrade(&head) {
        Ok(up) => up,
        Err(rej) => return refuse(&core, &stream, rej.status, rej.reason, rej.msg).await,
    };
    if let Err(e) = auth::verify(&shared.secret, &up.token, up.uid, unix_secs()) {
        return refuse(
            &core,
            &stream,
            401,
            "bad_token",
            &format!("token rejected: {e}"),
        )
        .await;
    }
    if let Err(rej) = http::check_origin(up.origin.as_deref(), &shared.config.allowed_origins) {
        return refuse(&core, &stream, rej.status, rej.reason, rej.msg).await;
    }
    if shared.draining() {
        return refuse(&core, &stream, 503, "draining", "server is draining").await;
    }
    if !shared.try_reserve_conn() {
        return refuse(
            &core,
            &stream,
            503,
            "full",
            "server is at its connection limit",
        )
        .await;
    }
    let (store, uid) = (shared.store.clone(), up.uid);
    let known = match shared.reads.run(move || store.ensure_user(uid)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err((_, reason)) => Err(reason),
    };
    if let Err(e) = known {
        shared.release_conn();
        tracing::warn!(uid = up.uid, error = %e, "store unavailable at connect");
        return refuse(&core, &stream, 503, "store", "store unavailable").await;
    }
    // The owning core writes the 101 after registering the connection, so
    // nothing addressed to the user can arrive between the two.
    let hello = Bytes::from(http::switching_protocols(&accept_key(
        up.client_key.as_bytes(),
    )));
    let owner = core_of(up.uid, shared.cores());
    if owner == core.id {
        // A task of its own, so the handshake's state (request head, buffers) is freed now.
        conn::spawn(core, stream, up.uid, hello, pending);
    } else {
        let fd = stream.into_raw_fd();
        shared.send(
            owner,
            CoreMsg::Handoff {
                fd,
                uid: up.uid,
                hello,
                pending,
            },
        );
    }
}
