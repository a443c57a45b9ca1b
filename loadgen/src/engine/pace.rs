//! The sending task of a core: paces messages at the core's share of
//! `--rate` (1 ms ticks), or, in max mode, keeps every sender's window full
//! (acks refill it at once; a 10 ms sweep catches reconnected users and, for
//! the peers, frees slots whose deliveries never came).

use std::rc::Rc;

use monoio::time::{sleep, Instant};

use super::core::{Core, Phase, State};
use super::send::{send_one, top_up};
use crate::stats::now_us;

/// How long a peer-mode window slot waits for its deliveries.
const SLOT_TIMEOUT_US: u64 = 2_000_000;

/// The sending task of a core, from Start to StopSending: paces messages at
/// the core's share of `--rate`, or keeps every window full in max mode.
pub async fn pacer(core: Rc<Core>) {
    let ctx = core.ctx.clone();
    let local = core.st.borrow().senders.len();
    if local == 0 {
        return;
    }
    let start = Instant::now();
    let mut sent = 0u64;
    let mut next = 0usize;
    let mut last_due = 0u64;
    let rate = ctx
        .rate
        .map(|r| r * local as f64 / ctx.total_senders.max(1) as f64);
    // At most 5 ms worth per tick, so reads are never starved.
    let cap = rate.map_or(0, |r| (r * 0.005).ceil() as u64 + 16);
    loop {
        sleep(std::time::Duration::from_millis(if rate.is_some() {
            1
        } else {
            10
        }))
        .await;
        if core.phase.get() != Phase::Running {
            // What the last tick could not send in time.
            core.st.borrow_mut().counters.behind += last_due.saturating_sub(sent);
            return;
        }
        let mut st = core.st.borrow_mut();
        match rate {
            Some(r) => {
                let due = (start.elapsed().as_secs_f64() * r) as u64;
                last_due = due;
                let n = due.saturating_sub(sent).min(cap);
                for _ in 0..n {
                    // The next sender that is up, round robin.
                    let mut tries = 0;
                    while tries < local {
                        let i = st.senders[next % local];
                        next = next.wrapping_add(1);
                        tries += 1;
                        if send_one(&core, &mut st, i) {
                            break;
                        }
                    }
                    sent += 1;
                }
            }
            None => {
                let now = now_us();
                for k in 0..local {
                    let i = st.senders[k];
                    if ctx.peer {
                        expire_slots(&mut st, i, now);
                    }
                    top_up(&core, &mut st, i);
                }
            }
        }
    }
}

/// Peer max mode: frees slots whose deliveries never came.
fn expire_slots(st: &mut State, i: usize, now: u64) {
    while let Some(p) = st.users[i].pending.front() {
        if now.saturating_sub(p.sent_us) < SLOT_TIMEOUT_US {
            break;
        }
        st.users[i].pending.pop_front();
        st.counters.window_timeouts += 1;
    }
}
