//! The life of a user's connection: open it (within the core's connect
//! budget), read until it ends, clean up, and reconnect with a sync when a
//! storm dropped it.

use std::os::fd::AsRawFd;
use std::rc::Rc;

use monoio::time::{sleep, sleep_until, Instant};

use super::connect::{self, jitter};
use super::core::{Core, Phase, State};
use super::read::read_loop;
use super::send::write_scratch;
use super::user::Link;
use super::Event;
use crate::proto::outbound;
use std::time::Duration;

/// Holds one of the core's connect places; gives it back when dropped.
struct Slot(flume::Receiver<()>);

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = self.0.try_recv();
    }
}

/// Opens the core's connections: user `k` of `n` not before `ramp * k / n`,
/// at most `connect_concurrency` at a time.
pub async fn connector(core: Rc<Core>) {
    let n = core.st.borrow().users.len();
    let (places, taken) = flume::bounded(core.ctx.connect_concurrency.max(1));
    let start = Instant::now();
    for k in 0..n {
        let at = start + core.ctx.ramp.mul_f64(k as f64 / n as f64);
        sleep_until(at).await;
        if places.send_async(()).await.is_err() {
            return;
        }
        monoio::spawn(user_task(core.clone(), k, Some(Slot(taken.clone()))));
    }
}

/// Marks one more user as settled; tells the coordinator when all are.
pub fn settle(core: &Core, st: &mut State) {
    st.settled += 1;
    if st.settled == st.users.len() && core.phase.get() == Phase::Connecting {
        core.phase.set(Phase::Ready);
        let _ = core.events.send(Event::Connected { unit: core.unit });
    }
}

/// Connects user `i` and serves it; reconnects after a storm drop.
async fn user_task(core: Rc<Core>, i: usize, mut slot: Option<Slot>) {
    let mut first = true;
    loop {
        let (uid, index, nonce) = {
            let mut st = core.st.borrow_mut();
            st.counters.connect_attempts += 1;
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&st.rand().to_ne_bytes());
            nonce[8..].copy_from_slice(&st.rand().to_ne_bytes());
            (st.users[i].uid, st.users[i].index, nonce)
        };
        let opened = connect::open(&core.ctx, index, uid, nonce).await;
        drop(slot.take());
        match opened {
            Err(f) => {
                let mut st = core.st.borrow_mut();
                st.counters.connect_failure(&f.reason());
                if first {
                    settle(&core, &mut st);
                }
            }
            Ok(o) => {
                let stream = Rc::new(o.stream);
                {
                    let mut st = core.st.borrow_mut();
                    st.counters.connected += 1;
                    st.live += 1;
                    if first {
                        st.hists.connect.record(o.connect_us);
                        st.hists.handshake.record(o.handshake_us);
                    } else {
                        st.counters.reconnected += 1;
                    }
                    let u = &mut st.users[i];
                    u.fd = stream.as_raw_fd();
                    u.stream = Some(stream.clone());
                    u.generation = u.generation.wrapping_add(1);
                    u.link = Link::Live;
                    if core.ctx.peer {
                        if first {
                            settle(&core, &mut st);
                        }
                    } else if first {
                        // Learn where the server's logs stand before the run
                        // starts; the user settles when the answer comes.
                        st.users[i].baseline = true;
                        send_sync(&core, &mut st, i, true);
                    } else if st.users[i].dropped.is_some() {
                        send_sync(&core, &mut st, i, false);
                    }
                }
                read_loop(&core, i, &stream, o.leftover).await;
                cleanup(&core, i);
            }
        }
        first = false;
        let again = {
            let mut st = core.st.borrow_mut();
            let again = st.users[i].reconnect
                && matches!(core.phase.get(), Phase::Running | Phase::Draining);
            st.users[i].reconnect = false;
            again
        };
        if !again {
            return;
        }
        let r = core.st.borrow_mut().rand();
        // Spread the reconnects a little, as real clients' backoff would.
        sleep(core.ctx.storm_pause + jitter(r, Duration::from_millis(200))).await;
    }
}

/// Asks for everything after the sequences user `i` has seen in order, or,
/// for a `baseline`, for nothing (after the largest possible sequence): the
/// answer then only tells the latest sequences.
fn send_sync(core: &Rc<Core>, st: &mut State, i: usize, baseline: bool) {
    const NOTHING: u64 = i64::MAX as u64;
    let u = &mut st.users[i];
    u.next_id += 1;
    let id = u.next_id;
    let after = |s: &crate::account::SeqSet| if baseline { NOTHING } else { s.contiguous() };
    let inbox = after(&u.inbox);
    let groups: Vec<(i64, u64)> = u.group.iter().map(|(g, s)| (*g, after(s))).collect();
    u.link = Link::Syncing { id };
    st.scratch.clear();
    outbound::sync(&mut st.scratch, id, inbox, &groups);
    write_scratch(core, st, i);
}

/// Forgets user `i`'s closed connection; what it had in flight is unresolved.
fn cleanup(core: &Core, i: usize) {
    let mut st = core.st.borrow_mut();
    st.live -= 1;
    let State {
        users,
        tx,
        counters,
        ..
    } = &mut *st;
    let u = &mut users[i];
    u.fd = -1;
    u.stream = None;
    u.link = Link::Down;
    u.out = Vec::new();
    u.flushing = false;
    if core.ctx.peer {
        u.pending.clear();
        return;
    }
    for p in u.pending.drain(..) {
        if let Some(t) = tx.get_mut(&(u.uid, p.dst)) {
            t.unresolved.push(p.seq);
        }
        counters.unresolved += 1;
    }
}
