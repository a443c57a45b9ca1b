//! Sending: a message is written as JSON into the core's scratch buffer,
//! framed (masked; unmasked for the ceiling) into the core's frame buffer
//! and handed to the socket with one non-blocking `send`. Only when the
//! socket is full do the bytes go to the user's own queue, drained by a
//! flusher task.

use std::io;
use std::rc::Rc;

use super::core::{Core, Phase, State};
use super::user::{Link, Pending};
use crate::cli::{Pairs, Scenario};
use crate::proto::{outbound, Dst, Stamp};
use crate::stats::now_us;
use crate::sys;
use imedge::ws::encode::{client_close, client_frame, write_header, OpCode};

/// Sends a text message `st.scratch` to user `i`. Returns false when the
/// connection is gone.
pub fn write_scratch(core: &Rc<Core>, st: &mut State, i: usize) -> bool {
    st.wbuf.clear();
    if core.ctx.unmasked {
        let mut header = [0u8; 10];
        let n = write_header(OpCode::Text, st.scratch.len(), &mut header);
        st.wbuf.extend_from_slice(&header[..n]);
        st.wbuf.extend_from_slice(&st.scratch);
    } else {
        let mask = (st.rand() as u32).to_ne_bytes();
        client_frame(OpCode::Text, true, &st.scratch, mask, &mut st.wbuf);
    }
    let State { users, wbuf, .. } = st;
    write_bytes(core, &mut users[i], i, wbuf)
}

/// Sends a close frame with `code` to user `i`.
pub fn write_close(core: &Rc<Core>, st: &mut State, i: usize, code: u16) {
    let mask = (st.rand() as u32).to_ne_bytes();
    st.wbuf.clear();
    client_close(code, "", mask, &mut st.wbuf);
    let State { users, wbuf, .. } = st;
    write_bytes(core, &mut users[i], i, wbuf);
}

/// Sends a pong carrying `payload` to user `i`.
pub fn write_pong(core: &Rc<Core>, st: &mut State, i: usize, payload: &[u8]) {
    let mask = (st.rand() as u32).to_ne_bytes();
    st.wbuf.clear();
    client_frame(OpCode::Pong, true, payload, mask, &mut st.wbuf);
    let State { users, wbuf, .. } = st;
    write_bytes(core, &mut users[i], i, wbuf);
}

/// Writes `data` to user `i`'s socket, or queues it behind bytes already
/// queued; starts a flusher when the socket is full.
fn write_bytes(core: &Rc<Core>, u: &mut super::user::User, i: usize, data: &[u8]) -> bool {
    if u.fd < 0 {
        return false;
    }
    if !u.out.is_empty() {
        u.out.extend_from_slice(data);
        return true;
    }
    let mut done = 0;
    while done < data.len() {
        match sys::send(u.fd, &data[done..]) {
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // The read side sees the same failure and ends the connection.
            Err(_) => return false,
        }
    }
    if done < data.len() {
        u.out.extend_from_slice(&data[done..]);
        if !u.flushing {
            u.flushing = true;
            monoio::spawn(flush(core.clone(), i, u.generation));
        }
    }
    true
}

/// Drains user `i`'s queue as the socket accepts it.
async fn flush(core: Rc<Core>, i: usize, generation: u32) {
    loop {
        let stream = {
            let st = core.st.borrow();
            let u = &st.users[i];
            match &u.stream {
                Some(s) if u.generation == generation => s.clone(),
                _ => return,
            }
        };
        if stream.writable(false).await.is_err() {
            break;
        }
        let mut st = core.st.borrow_mut();
        let u = &mut st.users[i];
        if u.generation != generation || u.fd < 0 {
            return;
        }
        match sys::send(u.fd, &u.out) {
            Ok(n) => {
                u.out.drain(..n);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
        if u.out.is_empty() {
            u.out = Vec::new();
            u.flushing = false;
            return;
        }
    }
    let mut st = core.st.borrow_mut();
    if st.users[i].generation == generation {
        st.users[i].flushing = false;
    }
}

/// Where user `i`'s next message goes, by scenario.
fn pick_dst(core: &Core, st: &mut State, i: usize) -> Option<Dst> {
    let plan = &core.ctx.plan;
    let u = &st.users[i];
    let group = u.group.as_ref().map(|g| g.0);
    let index = u.index;
    let chat = |st: &mut State| -> Option<Dst> {
        match plan.pairs {
            Pairs::Fixed | Pairs::SameNode | Pairs::CrossNode => {
                plan.partner(index).map(|p| Dst::User(plan.uid(p)))
            }
            Pairs::Random if plan.users > 1 => {
                let mut j = st.below(plan.users - 1);
                if j >= index {
                    j += 1;
                }
                Some(Dst::User(plan.uid(j)))
            }
            Pairs::Random => None,
        }
    };
    match plan.scenario {
        Scenario::Connect => None,
        Scenario::Chat => chat(st),
        Scenario::Room => group.map(Dst::Group),
        Scenario::Mixed | Scenario::Storm => {
            let unit = (st.rand() >> 11) as f64 / (1u64 << 53) as f64;
            let room = group.is_some() && unit < plan.room_share;
            if room {
                group.map(Dst::Group)
            } else {
                chat(st).or(group.map(Dst::Group))
            }
        }
    }
}

/// Sends one message from user `i`; false when it could not.
pub fn send_one(core: &Rc<Core>, st: &mut State, i: usize) -> bool {
    if !st.users[i].is_up() || st.users[i].link != Link::Live {
        return false;
    }
    let Some(dst) = pick_dst(core, st, i) else {
        return false;
    };
    let ctx = &core.ctx;
    let uid = st.users[i].uid;
    let stream = st.tx.entry((uid, dst)).or_default();
    stream.sent += 1;
    let seq = stream.sent;
    let sent_us = now_us();
    let stamp = Stamp {
        run: ctx.run_id,
        sender: uid,
        dst,
        seq,
        sent_us,
    };
    let id = if ctx.peer {
        0
    } else {
        st.users[i].next_id += 1;
        st.users[i].next_id
    };
    st.scratch.clear();
    outbound::message(
        &mut st.scratch,
        id,
        ctx.peer.then_some(uid),
        &stamp,
        ctx.message_bytes,
    );
    if !write_scratch(core, st, i) {
        // Never reached the socket: nobody can expect it.
        let t = st.tx.get_mut(&(uid, dst)).expect("stream just used");
        t.unresolved.push(seq);
        st.counters.sent += 1;
        st.counters.unresolved += 1;
        return false;
    }
    st.counters.sent += 1;
    let recipients = ctx.plan.recipient_count(uid, dst);
    if ctx.peer {
        st.counters.expected += u64::from(recipients);
        if ctx.rate.is_some() || recipients == 0 {
            return true;
        }
    }
    st.users[i].pending.push_back(Pending {
        id,
        dst,
        seq,
        sent_us,
        remaining: recipients,
    });
    true
}

/// Max mode: fills user `i`'s window.
pub fn top_up(core: &Rc<Core>, st: &mut State, i: usize) {
    if core.ctx.rate.is_some() || core.phase.get() != Phase::Running || !st.users[i].sender {
        return;
    }
    while st.users[i].pending.len() < core.ctx.inflight as usize {
        if !send_one(core, st, i) {
            break;
        }
    }
}
