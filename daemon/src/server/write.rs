//! Writing: the per-core flusher drains every dirty connection's queue with
//! one `sendmsg` each; a connection whose socket is full gets a waiter task
//! that resumes when it is writable (only slow connections ever have one).

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::core::Core;
use super::sys;
use crate::shard::Pace;

/// How long a gathering core waits before a writing pass (the timer's tick).
const GATHER: Duration = Duration::from_millis(1);

/// Runs for the life of the core: wakes when frames are queued, after the
/// task that queued them yields, so one pass covers a whole batch; under
/// heavy load it first waits a timer tick for more ([`Pace`]).
pub async fn flusher(core: Rc<Core>) {
    let mut keys = Vec::new();
    let mut pace = Pace::new(core.shared.config.gather_above);
    loop {
        std::future::poll_fn(|cx| core.poll_dirty(cx, &mut keys)).await;
        if pace.gather(core.shared.now_ms(), core.counters().frames_queued()) {
            core.counters().gathered_pass();
            monoio::time::sleep(GATHER).await;
            core.take_dirty(&mut keys);
        }
        for key in keys.drain(..) {
            flush(&core, key);
        }
    }
}

/// Writes as much of `key`'s queue as the socket takes.
pub fn flush(core: &Rc<Core>, key: u32) {
    let mut shard = core.shard.borrow_mut();
    let Some(c) = shard.by_key_mut(key) else {
        return;
    };
    c.dirty = false;
    if c.write_blocked {
        return;
    }
    let fd = c.io.as_raw_fd();
    while !c.out.is_empty() {
        let want: usize = c.out.slices(sys::MAX_IOV).map(<[u8]>::len).sum();
        match sys::send_slices(fd, c.out.slices(sys::MAX_IOV)) {
            Ok(n) => {
                core.counters().bytes_out.fetch_add(n as u64, Relaxed);
                c.out.consume(n);
                if n < want {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(_) => {
                // The peer is gone: drop what is queued; the reader sees the
                // end of stream and removes the connection.
                c.out.clear();
                sys::shutdown(fd);
                return;
            }
        }
    }
    // A replay feeding this connection sends its next frames as it drains.
    core.wake_replay(key);
    if c.out.is_empty() {
        if c.live.closing_since_ms.is_some() {
            // Our close frame is out: half-close so the peer sees it was the last thing.
            sys::shutdown_write(fd);
        }
        return;
    }
    c.write_blocked = true;
    let stream = c.io.clone();
    let r = shard.conn_ref(key).expect("entry exists");
    let core = core.clone();
    monoio::spawn(async move {
        let ready = stream.writable(false).await;
        let still_ours = {
            let mut shard = core.shard.borrow_mut();
            match shard.get_mut(r) {
                Some(c) => {
                    c.write_blocked = false;
                    true
                }
                None => false,
            }
        };
        if still_ours {
            if ready.is_err() {
                sys::shutdown(stream.as_raw_fd());
            }
            flush(&core, r.key);
        }
    });
}
