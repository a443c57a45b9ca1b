//! Reading a connection: wait for readiness holding no buffer, `recv` into
//! the core's buffer, decode frames in place (only a partial frame is
//! copied, into the connection's own small buffer) and account for each.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use monoio::net::TcpStream;

use super::core::{Core, Phase, State};
use super::send::{top_up, write_close, write_pong};
use super::task::settle;
use super::user::Link;
use crate::account::{Insert, SeqSet};
use crate::proto::inbound::{classify, Inbound};
use crate::proto::{Dst, Stamp};
use crate::stats::now_us;
use crate::sys;
use imedge::ws::decode::{Decoder, Payload, Role, Step};

/// Largest server message accepted (sync replays are single frames).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Serves user `i`'s connection until it ends; `partial` holds bytes that
/// arrived with the upgrade answer.
pub async fn read_loop(core: &Rc<Core>, i: usize, stream: &TcpStream, mut partial: Vec<u8>) {
    let fd = stream.as_raw_fd();
    let mut dec = Decoder::new(Role::Client, MAX_MESSAGE);
    let mut done = false;
    let mut closed_by_peer = false;
    if !partial.is_empty() {
        let used = process(
            core,
            i,
            &mut dec,
            &mut partial,
            &mut done,
            &mut closed_by_peer,
        );
        partial.drain(..used);
    }
    while !done {
        if stream.readable(false).await.is_err() {
            break;
        }
        let mut rbuf = core.rbuf.borrow_mut();
        loop {
            let n = match sys::recv(fd, &mut rbuf) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    done = true;
                    break;
                }
            };
            if partial.is_empty() {
                let used = process(
                    core,
                    i,
                    &mut dec,
                    &mut rbuf[..n],
                    &mut done,
                    &mut closed_by_peer,
                );
                partial.extend_from_slice(&rbuf[used..n]);
            } else {
                partial.extend_from_slice(&rbuf[..n]);
                let used = process(
                    core,
                    i,
                    &mut dec,
                    &mut partial,
                    &mut done,
                    &mut closed_by_peer,
                );
                partial.drain(..used);
            }
            if done || n < rbuf.len() {
                break;
            }
        }
        if partial.is_empty() && partial.capacity() > 4096 {
            // An idle connection keeps no buffer.
            partial = Vec::new();
        }
    }
    if !closed_by_peer {
        let mut st = core.st.borrow_mut();
        // Dropped without a close frame, unless we dropped it ourselves.
        if core.phase.get() != Phase::Finishing && !st.users[i].reconnect {
            *st.counters.closes.entry(1006).or_default() += 1;
        }
    }
}

/// Decodes every complete frame at the front of `buf`; returns the bytes used.
fn process(
    core: &Rc<Core>,
    i: usize,
    dec: &mut Decoder,
    buf: &mut [u8],
    done: &mut bool,
    closed_by_peer: &mut bool,
) -> usize {
    let mut st = core.st.borrow_mut();
    let mut off = 0;
    loop {
        let step = match dec.decode(&mut buf[off..]) {
            Ok(s) => s,
            Err(v) => {
                st.counters.protocol_errors += 1;
                write_close(core, &mut st, i, v.code);
                *done = true;
                return buf.len();
            }
        };
        match step {
            Step::NeedMore(_) => return off,
            Step::Fragment { consumed } | Step::Pong { consumed } => off += consumed,
            Step::Message {
                consumed, payload, ..
            } => {
                let data: &[u8] = match payload {
                    Payload::InBuf(range) => &buf[off..][range],
                    Payload::Assembled => dec.assembled(),
                };
                on_text(core, &mut st, i, data);
                off += consumed;
            }
            Step::Ping { consumed, payload } => {
                st.counters.pings += 1;
                write_pong(core, &mut st, i, &buf[off..][payload]);
                off += consumed;
            }
            Step::Close { consumed, code, .. } => {
                let code = code.unwrap_or(1005);
                if core.phase.get() != Phase::Finishing {
                    *st.counters.closes.entry(code).or_default() += 1;
                    // Echo the close (RFC 6455 5.5.1); the server then ends the TCP connection.
                    write_close(core, &mut st, i, if code == 1005 { 1000 } else { code });
                }
                *closed_by_peer = true;
                *done = true;
                return off + consumed;
            }
        }
    }
}

/// Accounts for one server text message to user `i`.
fn on_text(core: &Rc<Core>, st: &mut State, i: usize, data: &[u8]) {
    match classify(data) {
        Inbound::Deliver { stamp, seq } => on_deliver(core, st, i, stamp, seq),
        Inbound::Ack { id, seq } => on_ack(core, st, i, id, seq),
        Inbound::Error { id, code } => on_error(core, st, i, id, code),
        Inbound::SyncDone { id, inbox, groups } => on_sync_done(core, st, i, id, inbox, &groups),
        Inbound::Foreign => st.counters.foreign += 1,
        Inbound::Other => st.counters.other_frames += 1,
    }
}

fn on_deliver(core: &Rc<Core>, st: &mut State, i: usize, stamp: Stamp, seq: Option<u64>) {
    let now = now_us();
    st.counters.delivered_frames += 1;
    let stale = stamp.run != core.ctx.run_id;
    let u = &mut st.users[i];
    let uid = u.uid;
    let syncing = matches!(u.link, Link::Syncing { .. });
    let watching_gaps = !syncing && u.dropped.is_none();
    if let Some(seq) = seq {
        let inbox = matches!(stamp.dst, Dst::User(_));
        if let Some(log) = u.log_mut(stamp.dst) {
            let max = log.max();
            match log.insert(seq) {
                // The server sent this sequence before (sync overlap): not a duplicate message.
                Insert::Dup => {
                    st.counters.resync_duplicates += 1;
                    return;
                }
                // Group logs have holes at the user's own messages until
                // their acks come, so only inbox gaps are a sign of loss.
                Insert::New if inbox && watching_gaps && !stale && seq > max + 1 => {
                    st.counters.seq_gaps += 1
                }
                _ => {}
            }
        }
    }
    if stale {
        st.counters.stale += 1;
        return;
    }
    if stamp.sender == uid {
        st.counters.self_echoes += 1;
        return;
    }
    match st
        .rx
        .entry((uid, stamp.sender, stamp.dst))
        .or_default()
        .record(stamp.seq, syncing)
    {
        Insert::Dup => st.counters.duplicated += 1,
        r => {
            st.counters.delivered_unique += 1;
            if let (Some(c), Some(from)) = (&core.ctx.cluster, core.ctx.plan.index(stamp.sender)) {
                if c.crosses(from, st.users[i].index) {
                    st.counters.cross_node += 1;
                }
            }
            if r == Insert::Late && !syncing {
                st.counters.reordered += 1;
            }
            let latency = now.saturating_sub(stamp.sent_us);
            if syncing {
                st.hists.recovered.record(latency);
            } else {
                st.hists.delivery.record(latency);
                st.tick_delivery.record(latency);
            }
        }
    }
    if core.ctx.peer && core.ctx.rate.is_none() {
        free_peer_slot(core, st, stamp);
    }
}

/// Peer max mode: a delivery frees its sender's slot once every recipient got it.
fn free_peer_slot(core: &Rc<Core>, st: &mut State, stamp: Stamp) {
    let Some(&j) = st.by_uid.get(&stamp.sender) else {
        return;
    };
    let pending = &mut st.users[j].pending;
    let Some(pos) = pending
        .iter()
        .position(|p| p.dst == stamp.dst && p.seq == stamp.seq)
    else {
        return;
    };
    pending[pos].remaining = pending[pos].remaining.saturating_sub(1);
    if pending[pos].remaining == 0 {
        pending.remove(pos);
        top_up(core, st, j);
    }
}

fn on_ack(core: &Rc<Core>, st: &mut State, i: usize, id: i64, seq: u64) {
    let u = &mut st.users[i];
    let Some(pos) = u.pending.iter().position(|p| p.id == id) else {
        st.counters.other_frames += 1;
        return;
    };
    let p = u.pending.remove(pos).expect("position is valid");
    if let (Dst::Group(g), Some((gid, set))) = (p.dst, &mut u.group) {
        if *gid == g {
            // The user's own message holds this group seq: it is seen.
            set.insert(seq);
        }
    }
    let uid = u.uid;
    st.counters.acked += 1;
    st.counters.expected += u64::from(core.ctx.plan.recipient_count(uid, p.dst));
    st.hists.ack.record(now_us().saturating_sub(p.sent_us));
    top_up(core, st, i);
}

fn on_error(core: &Rc<Core>, st: &mut State, i: usize, id: i64, code: u16) {
    *st.counters.errors.entry(code).or_default() += 1;
    let u = &mut st.users[i];
    let Some(pos) = u.pending.iter().position(|p| id != 0 && p.id == id) else {
        return;
    };
    let p = u.pending.remove(pos).expect("position is valid");
    let uid = u.uid;
    if let Some(t) = st.tx.get_mut(&(uid, p.dst)) {
        t.rejected.push(p.seq);
    }
    st.counters.rejected += 1;
    top_up(core, st, i);
}

fn on_sync_done(
    core: &Rc<Core>,
    st: &mut State,
    i: usize,
    id: i64,
    inbox: u64,
    groups: &[(i64, u64)],
) {
    if id == 0 {
        st.counters.offline_markers += 1;
        return;
    }
    let u = &mut st.users[i];
    if u.link != (Link::Syncing { id }) {
        st.counters.other_frames += 1;
        return;
    }
    u.link = Link::Live;
    if u.baseline {
        // Everything already in the logs predates the run.
        u.baseline = false;
        if u.inbox.max() < inbox {
            u.inbox = SeqSet::through(inbox);
        }
        if let Some((gid, set)) = &mut u.group {
            if let Some(&(_, latest)) = groups.iter().find(|(g, _)| g == gid) {
                if set.max() < latest {
                    *set = SeqSet::through(latest);
                }
            }
        }
        settle(core, st);
        return;
    }
    if let Some(mark) = u.dropped.take() {
        let mut missed = inbox.saturating_sub(mark.inbox_seen);
        let mut recovered = u.inbox.len_upto(inbox).saturating_sub(mark.inbox_seen);
        if let Some((gid, set)) = &u.group {
            if let Some(&(_, latest)) = groups.iter().find(|(g, _)| g == gid) {
                missed += latest.saturating_sub(mark.group_seen);
                recovered += set.len_upto(latest).saturating_sub(mark.group_seen);
            }
        }
        st.counters.missed += missed;
        st.counters.recovered += recovered;
        st.counters.storm_synced += 1;
        st.hists
            .reconnect
            .record(now_us().saturating_sub(mark.at_us));
    }
    top_up(core, st, i);
}
