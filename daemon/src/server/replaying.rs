//! A core's replays in progress, one per connection at most: starting and
//! ending them, the cmd 30 requests queued behind one, the frames held
//! behind it, the pacing of its pages by the connection's queue, and the
//! cursor saves an offline push waits for.

use crate::fasthash::FastMap;

use bytes::Bytes;

use super::core::Core;
use super::held::{Held, Tagged};
use crate::msg::SyncRequest;
use crate::shard::ConnRef;

impl Core {
    /// Queues a frame of `to`'s own replay, ahead of what is held.
    pub fn push_replayed(&self, to: ConnRef, frame: Bytes) {
        let mut shard = self.shard.borrow_mut();
        if shard.get(to).is_some() {
            self.queue_key(&mut shard, to.key, &frame);
        }
    }

    /// Starts holding `to`'s frames behind a replay; false if one runs already.
    pub fn begin_replay(&self, to: ConnRef) -> bool {
        let mut replays = self.replays.borrow_mut();
        if replays.get(&to.key).is_some_and(|h| h.conn == to) {
            return false;
        }
        replays.insert(to.key, Held::new(to));
        true
    }

    /// Queues cmd 30 `(id, req)` behind `to`'s running replay; gives it
    /// back when none runs.
    pub fn queue_sync(
        &self,
        to: ConnRef,
        sync: (i64, SyncRequest),
    ) -> Result<(), (i64, SyncRequest)> {
        match self.replays.borrow_mut().get_mut(&to.key) {
            Some(h) if h.conn == to => {
                h.syncs.push_back(sync);
                Ok(())
            }
            _ => Err(sync),
        }
    }

    /// The next cmd 30 queued behind `to`'s replay; when there is none, the
    /// replay ends (frames are queued directly from then on).
    pub fn next_sync(&self, to: ConnRef) -> Option<(i64, SyncRequest)> {
        let mut replays = self.replays.borrow_mut();
        let next = replays
            .get_mut(&to.key)
            .filter(|h| h.conn == to)
            .and_then(|h| h.syncs.pop_front());
        if next.is_none() {
            self.end_replay_in(&mut replays, to);
        }
        next
    }

    /// Ends `to`'s replay, dropping whatever is held, and forgets what
    /// its replays carried (the connection is gone).
    pub fn end_replay(&self, to: ConnRef) {
        self.end_replay_in(&mut self.replays.borrow_mut(), to);
        self.carried.borrow_mut().forget(to);
    }

    fn end_replay_in(&self, replays: &mut FastMap<u32, Held>, to: ConnRef) {
        if replays.get(&to.key).is_some_and(|h| h.conn == to) {
            if let Some(mut h) = replays.remove(&to.key) {
                h.wake();
            }
        }
    }

    /// Bytes held behind `to`'s replay.
    pub fn held_bytes(&self, to: ConnRef) -> usize {
        self.replays
            .borrow()
            .get(&to.key)
            .filter(|h| h.conn == to)
            .map_or(0, Held::bytes)
    }

    /// Takes the frames held behind `to`'s replay, in order.
    pub fn release_held(&self, to: ConnRef) -> Vec<Tagged> {
        match self.replays.borrow_mut().get_mut(&to.key) {
            Some(h) if h.conn == to => h.release(),
            _ => Vec::new(),
        }
    }

    /// Waits until `to`'s queue can take `need` more bytes within half its
    /// bound (or is empty); false if the connection closed meanwhile.
    pub async fn room(&self, to: ConnRef, need: usize) -> bool {
        let high = self.shared.config.outbound_queue_bytes / 2;
        std::future::poll_fn(|cx| {
            let shard = self.shard.borrow();
            let Some(c) = shard.get(to) else {
                return std::task::Poll::Ready(false);
            };
            if c.live.closing_since_ms.is_some() {
                return std::task::Poll::Ready(false);
            }
            if c.out.is_empty() || c.out.bytes() + need <= high {
                return std::task::Poll::Ready(true);
            }
            match self.replays.borrow_mut().get_mut(&to.key) {
                Some(h) if h.conn == to => {
                    h.waker = Some(cx.waker().clone());
                    std::task::Poll::Pending
                }
                // No replay state to be woken through: the replay was ended.
                _ => std::task::Poll::Ready(false),
            }
        })
        .await
    }

    /// Wakes the replay feeding `key`, if one waits (its queue drained some).
    pub fn wake_replay(&self, key: u32) {
        let mut replays = self.replays.borrow_mut();
        if !replays.is_empty() {
            if let Some(h) = replays.get_mut(&key) {
                h.wake();
            }
        }
    }

    /// Marks that `uid`'s cursor is being saved; returns the sender to drop when done.
    pub fn saving_cursor(&self, uid: i64) -> (flume::Sender<()>, flume::Receiver<()>) {
        let (tx, rx) = flume::bounded(1);
        self.saving.borrow_mut().insert(uid, rx.clone());
        (tx, rx)
    }

    /// Forgets the cursor save `rx` of `uid` (unless a newer one replaced it).
    pub fn cursor_saved(&self, uid: i64, rx: &flume::Receiver<()>) {
        let mut saving = self.saving.borrow_mut();
        if saving.get(&uid).is_some_and(|r| r.same_channel(rx)) {
            saving.remove(&uid);
        }
    }

    /// Waits until any save of `uid`'s cursor in progress is done.
    pub async fn cursor_settled(&self, uid: i64) {
        let pending = self.saving.borrow().get(&uid).cloned();
        if let Some(rx) = pending {
            let _ = rx.recv_async().await;
        }
    }
}
