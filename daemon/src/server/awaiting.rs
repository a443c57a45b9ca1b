//! Messages this node forwarded to the node that keeps their log, waiting
//! for its answer, on the sending connection's core.
//!
//! Every forwarded message gets an answer: the keeper's ack or error, or,
//! when none comes within [`ANSWER_MS`] (the keeper died with it, or the
//! datagrams were lost past repair), a cmd 21 error 503 saying the message
//! may or may not have been stored, so the client knows to check or resend
//! rather than wait forever.
//!
//! A room message also waits here for its local fanout: the keeper sends
//! the stamped frame to every other node with members online, but not back
//! to this one, which stamps the very same bytes from its ack (seq and ts)
//! and shows them to its own members, except the sending connection, as a
//! local room message does.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::fasthash::FastMap;
use crate::msg::{Envelope, ReplyOf};
use crate::shard::ConnRef;

/// How long a forwarded message waits for its keeper's answer.
pub const ANSWER_MS: u64 = 5_000;

/// What a room message needs to be stamped here from its ack.
pub struct RoomCopy {
    /// The group.
    pub gid: i64,
    /// The authenticated sender.
    pub sender: i64,
    /// The parsed envelope.
    pub env: Envelope,
    /// The client's JSON object.
    pub payload: Bytes,
}

/// One forwarded message.
struct Forwarded {
    deadline_ms: u64,
    room: Option<RoomCopy>,
}

/// The forwarded messages of one core's connections, by (connection,
/// client message id); ids may repeat, so each holds a queue in send order.
#[derive(Default)]
pub struct Awaiting {
    by_conn: FastMap<(ConnRef, i64), VecDeque<Forwarded>>,
}

impl Awaiting {
    /// Records message `id` of connection `from`, forwarded at `now_ms`.
    pub fn add(&mut self, from: ConnRef, id: i64, now_ms: u64, room: Option<RoomCopy>) {
        self.by_conn
            .entry((from, id))
            .or_default()
            .push_back(Forwarded {
                deadline_ms: now_ms + ANSWER_MS,
                room,
            });
    }

    /// Takes the oldest message of `to` that `reply` answers: `Some` with
    /// its room copy, if any, when it was waiting; `None` when it was not
    /// (answered late, after its timeout error).
    pub fn answered(&mut self, to: ConnRef, reply: ReplyOf) -> Option<Option<RoomCopy>> {
        let key = (to, reply.id);
        let queue = self.by_conn.get_mut(&key)?;
        let f = queue.pop_front();
        if queue.is_empty() {
            self.by_conn.remove(&key);
        }
        f.map(|f| f.room)
    }

    /// Takes every message whose answer is overdue at `now_ms`: (connection, id).
    pub fn overdue(&mut self, now_ms: u64) -> Vec<(ConnRef, i64)> {
        let mut out = Vec::new();
        self.by_conn.retain(|&(conn, id), queue| {
            while queue.front().is_some_and(|f| f.deadline_ms <= now_ms) {
                queue.pop_front();
                out.push((conn, id));
            }
            !queue.is_empty()
        });
        out
    }

    /// Drops the messages of a connection that closed.
    pub fn closed(&mut self, conn: ConnRef) {
        self.by_conn.retain(|&(c, _), _| c != conn);
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: ConnRef = ConnRef {
        core: 0,
        key: 1,
        id: 1,
    };

    fn reply(id: i64) -> ReplyOf {
        ReplyOf {
            id,
            acked: Some((1, 0)),
        }
    }

    #[test]
    fn answers_take_the_oldest_message_with_their_id() {
        let mut a = Awaiting::default();
        a.add(C, 7, 0, None);
        a.add(C, 7, 10, None);
        assert!(a.answered(C, reply(7)).is_some());
        assert_eq!(a.overdue(ANSWER_MS), vec![], "the first one was taken");
        assert_eq!(a.overdue(ANSWER_MS + 10), vec![(C, 7)]);
        assert!(a.is_empty());
        assert!(a.answered(C, reply(7)).is_none(), "a late answer");
    }

    #[test]
    fn a_closed_connection_leaves_nothing_behind() {
        let mut a = Awaiting::default();
        a.add(C, 1, 0, None);
        a.add(C, 2, 0, None);
        a.closed(C);
        assert!(a.is_empty());
    }
}
