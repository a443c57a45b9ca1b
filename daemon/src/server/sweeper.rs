//! The per-core tick: pings quiet connections, closes idle ones, drops
//! unanswered closes and expired handshakes. One scan per tick replaces a
//! timer per connection.

use std::rc::Rc;
use std::time::Duration;

use super::core::Core;
use super::sys;
use crate::shard::Verdict;
use crate::ws::{close as code, encode};

/// The tick: a quarter of the shortest timing, between 10 ms and 1 s.
pub fn tick(core: &Core) -> Duration {
    let l = &core.shared.config;
    let shortest = l
        .ping_interval_ms
        .min(l.idle_timeout_ms)
        .min(l.handshake_timeout_ms);
    Duration::from_millis((shortest / 4).clamp(10, 1000))
}

/// Runs for the life of the core.
pub async fn run(core: Rc<Core>) {
    let mut interval = monoio::time::interval(tick(&core));
    loop {
        interval.tick().await;
        core.refresh_clock();
        sweep(&core, core.now_ms());
    }
}

fn sweep(core: &Rc<Core>, now: u64) {
    let limits = &core.shared.config;
    let mut ping = Vec::new();
    let mut idle = Vec::new();
    let mut dead = Vec::new();
    {
        let mut shard = core.shard.borrow_mut();
        for (key, c) in shard.iter_mut() {
            match c
                .live
                .judge(now, limits.ping_interval_ms, limits.idle_timeout_ms)
            {
                Verdict::Keep => {}
                Verdict::Ping => {
                    c.live.last_ping_ms = now;
                    ping.push(key);
                }
                Verdict::IdleTimeout => idle.push(key),
                Verdict::CloseTimeout => dead.push(Core::fd_of(&c.io)),
            }
        }
    }
    let refs: Vec<_> = {
        let shard = core.shard.borrow();
        ping.iter()
            .chain(&idle)
            .filter_map(|&k| shard.conn_ref(k))
            .collect()
    };
    let (ping_refs, idle_refs) = refs.split_at(ping.len());
    for &r in ping_refs {
        core.push(r, encode::frame(encode::OpCode::Ping, b""));
    }
    for &r in idle_refs {
        core.close(r, code::GOING_AWAY, "idle timeout");
    }
    for fd in dead {
        sys::shutdown(fd);
    }
    super::forward::expire(core, now);
    for (_, p) in core.handshakes.borrow_mut().iter_mut() {
        if now >= p.deadline_ms {
            p.deadline_ms = u64::MAX;
            core.counters().rejection("timeout");
            sys::shutdown(p.fd);
        }
    }
}
