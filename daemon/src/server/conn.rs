//! The per-connection task: waits for readability holding no buffer, reads
//! into the core's buffer, decodes frames and hands messages to dispatch.
//! Only a partial frame is ever copied into the connection's own buffer.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use tracing::Instrument as _;

use bytes::Bytes;
use monoio::net::TcpStream;

use super::core::Core;
use super::{dispatch, presence, sync, sys};
use crate::shard::{ConnRef, TokenBucket};
use crate::ws::decode::{Decoder, MessageKind, Payload, Role, Step};
use crate::ws::{close as code, encode};

/// What the read loop does next.
enum Flow {
    /// Keep reading frames.
    Go,
    /// The stream can no longer be parsed (we sent a close): discard input until it ends.
    Discard,
    /// The close handshake is complete or the peer is gone.
    Done,
}

/// Starts [`serve`] as a task of its own inside a `conn` span (uid, core),
/// so every event of the connection carries them. The span is debug-level:
/// at the default `info` filter it is a disabled no-op, costing the hot path
/// nothing but a level check when the task is made.
pub fn spawn(core: Rc<Core>, stream: TcpStream, uid: i64, hello: Bytes, pending: Vec<u8>) {
    let span = tracing::debug_span!("conn", uid, core = core.id);
    monoio::spawn(serve(core, stream, uid, hello, pending).instrument(span));
}

/// Serves one upgraded connection of `uid` on its owning core until it closes.
/// `hello` (the 101 answer) goes out first, after the connection is registered.
async fn serve(core: Rc<Core>, stream: TcpStream, uid: i64, hello: Bytes, mut pending: Vec<u8>) {
    let stream = Rc::new(stream);
    let fd = stream.as_raw_fd();
    // The handshake made the user known to the store: messages to it need
    // not ask again.
    core.known.borrow_mut().add_user(uid);
    // The groups are read off the core; joins and leaves that come
    // meanwhile are kept and applied once the connection is registered.
    core.setup_started(uid);
    let store = core.shared.store.clone();
    let groups = match core.shared.reads.run(move || store.user_groups(uid)).await {
        Ok(Ok(g)) => g.into_iter().map(|g| g.id).collect(),
        Ok(Err(e)) => {
            tracing::warn!(uid, error = %e, "loading groups failed; connection starts in none");
            Vec::new()
        }
        Err((_, reason)) => {
            tracing::warn!(
                uid,
                reason,
                "loading groups refused; connection starts in none"
            );
            Vec::new()
        }
    };
    core.refresh_clock();
    let now = core.now_ms();
    let limits = &core.shared.config;
    let bucket = TokenBucket::new(limits.rate_burst, now);
    // All of a user's connections live on this core: none here means offline.
    let first = !core.shard.borrow().has_user(uid);
    let r = core
        .shard
        .borrow_mut()
        .insert(uid, stream.clone(), groups, bucket, now);
    for (gid, joined) in core.setup_done(uid) {
        core.membership(uid, gid, joined);
    }
    presence::announce(&core);
    core.push(r, hello);
    if first {
        // Its own task: frames for the connection wait behind it from now on.
        sync::offline_push(&core, r, uid);
    }
    core.counters().connections.fetch_add(1, Relaxed);
    tracing::debug!(uid, core = core.id, key = r.key, "connection open");
    if core.draining.get() {
        core.close(r, code::GOING_AWAY, "server shutting down");
    }

    let mut dec = Decoder::new(Role::Server, limits.max_message_bytes);
    let mut flow = Flow::Go;
    if !pending.is_empty() {
        let (used, f) = process(&core, r, uid, &mut dec, &mut pending);
        pending.drain(..used);
        flow = f;
    }
    while !matches!(flow, Flow::Done) {
        if stream.readable(false).await.is_err() {
            break;
        }
        flow = read_available(&core, r, uid, fd, &mut dec, &mut pending, flow);
        if pending.is_empty() && pending.capacity() > 4096 {
            // An idle connection keeps no buffer.
            pending = Vec::new();
        }
    }

    // Flush a close echo still queued before the entry (and its queue) goes.
    core.flush_key(r.key);
    let removed = core.shard.borrow_mut().remove(r);
    presence::announce(&core);
    core.awaiting.borrow_mut().closed(r);
    core.end_replay(r);
    if let Some(c) = removed {
        if c.live.closing_since_ms.is_none() {
            core.counters().close(1006);
        }
        if !core.shard.borrow().has_user(uid) {
            sync::save_cursor(&core, uid, &c.groups);
        }
    }
    core.counters().connections.fetch_sub(1, Relaxed);
    core.shared.release_conn();
    tracing::debug!(uid, core = core.id, key = r.key, "connection closed");
}

/// Reads until the socket is drained, decoding as it goes.
fn read_available(
    core: &Rc<Core>,
    r: ConnRef,
    uid: i64,
    fd: i32,
    dec: &mut Decoder,
    pending: &mut Vec<u8>,
    mut flow: Flow,
) -> Flow {
    let mut rbuf = core.rbuf.borrow_mut();
    loop {
        let n = match sys::recv(fd, &mut rbuf) {
            Ok(0) => return Flow::Done,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return flow,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Flow::Done,
        };
        core.refresh_clock();
        core.counters().add_bytes_in(n);
        if let Some(c) = core.shard.borrow_mut().get_mut(r) {
            c.live.last_activity_ms = core.now_ms();
        }
        if matches!(flow, Flow::Discard) {
            continue;
        }
        if pending.is_empty() {
            let (used, f) = process(core, r, uid, dec, &mut rbuf[..n]);
            pending.extend_from_slice(&rbuf[used..n]);
            flow = f;
        } else {
            pending.extend_from_slice(&rbuf[..n]);
            let (used, f) = process(core, r, uid, dec, pending);
            pending.drain(..used);
            flow = f;
        }
        if matches!(flow, Flow::Done) {
            return flow;
        }
        if n < rbuf.len() {
            return flow;
        }
    }
}

/// Decodes every complete frame at the front of `buf`; returns the bytes used.
fn process(
    core: &Rc<Core>,
    r: ConnRef,
    uid: i64,
    dec: &mut Decoder,
    buf: &mut [u8],
) -> (usize, Flow) {
    let mut off = 0;
    loop {
        let step = match dec.decode(&mut buf[off..]) {
            Ok(s) => s,
            Err(v) => {
                tracing::debug!(uid, code = v.code, reason = v.reason, "protocol violation");
                core.close(r, v.code, v.reason);
                return (buf.len(), Flow::Discard);
            }
        };
        match step {
            Step::NeedMore(_) => return (off, Flow::Go),
            Step::Fragment { consumed } => off += consumed,
            Step::Message {
                consumed,
                kind,
                payload,
            } => {
                core.counters().frame_in();
                let data: &[u8] = match payload {
                    Payload::InBuf(range) => &buf[off..][range],
                    Payload::Assembled => dec.assembled(),
                };
                off += consumed;
                if kind == MessageKind::Binary {
                    core.close(r, code::UNSUPPORTED_DATA, "binary frames are not supported");
                    return (buf.len(), Flow::Discard);
                }
                if !closing(core, r) {
                    dispatch::message(core, r, uid, data);
                }
            }
            Step::Ping { consumed, payload } => {
                core.counters().frame_in();
                let pong = encode::frame(encode::OpCode::Pong, &buf[off..][payload]);
                core.push(r, pong);
                off += consumed;
            }
            Step::Pong { consumed } => {
                core.counters().frame_in();
                off += consumed;
            }
            Step::Close {
                consumed,
                code: peer_code,
                ..
            } => {
                core.counters().frame_in();
                // Echo the peer's code (RFC 6455 5.5.1); after our own close this completes the handshake.
                core.close(r, peer_code.unwrap_or(code::NORMAL), "");
                return (off + consumed, Flow::Done);
            }
        }
    }
}

fn closing(core: &Core, r: ConnRef) -> bool {
    core.shard
        .borrow()
        .get(r)
        .is_none_or(|c| c.live.closing_since_ms.is_some())
}
