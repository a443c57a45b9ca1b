//! The reconnect storm: a share of a core's users lose their connection at
//! once; each reconnects after a pause and syncs (cmd 30).

use std::rc::Rc;

use super::core::Core;
use super::user::DropMark;
use crate::stats::now_us;
use crate::sys;

/// Drops `share` of the core's connected users, spread evenly over them.
pub fn drop_share(core: &Rc<Core>, share: f64) {
    let share = share.clamp(0.0, 1.0);
    let now = now_us();
    let mut st = core.st.borrow_mut();
    let mut dropped = 0;
    for k in 0..st.users.len() {
        // User k drops when the running total share crosses an integer.
        if ((k + 1) as f64 * share).floor() <= (k as f64 * share).floor() {
            continue;
        }
        let u = &mut st.users[k];
        if !u.is_up() {
            continue;
        }
        u.reconnect = true;
        u.dropped = Some(DropMark {
            at_us: now,
            inbox_seen: u.inbox.len(),
            group_seen: u.group.as_ref().map_or(0, |g| g.1.len()),
        });
        // An abrupt end, as a lost network would give: no close frame.
        sys::shutdown(u.fd);
        dropped += 1;
    }
    st.counters.storm_dropped += dropped;
}
