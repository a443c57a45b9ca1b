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
    /// The client's message id, for the timeout's error.
    id: i64,
    deadline_ms: u64,
    room: Option<RoomCopy>,
}

/// The forwarded messages of one core's connections, by (connection, the
/// number this core gave the message): the keeper hands the number back
/// with its answer, so the answer matches exactly one message even when a
/// client repeats ids and answers from several keepers cross.
#[derive(Default)]
pub struct Awaiting {
    by_number: FastMap<(ConnRef, u32), Forwarded>,
    next: u32,
}

impl Awaiting {
    /// Records message `id` of connection `from`, forwarded at `now_ms`;
    /// returns the number to forward it under.
    pub fn add(&mut self, from: ConnRef, id: i64, now_ms: u64, room: Option<RoomCopy>) -> u32 {
        self.next = self.next.wrapping_add(1);
        let f = Forwarded {
            id,
            deadline_ms: now_ms + ANSWER_MS,
            room,
        };
        // A number comes round again only after 2^32 forwards: any entry
        // still under it timed out long ago.
        self.by_number.insert((from, self.next), f);
        self.next
    }

    /// Takes the message of `to` numbered `number` that `reply` answers:
    /// `Some` with its room copy, if any, when it was waiting; `None` when
    /// it was not (answered late, after its timeout error) or the answer
    /// names another message id (never from an honest keeper).
    pub fn answered(
        &mut self,
        to: ConnRef,
        number: u32,
        reply: ReplyOf,
    ) -> Option<Option<RoomCopy>> {
        let key = (to, number);
        if self.by_number.get(&key)?.id != reply.id {
            return None;
        }
        self.by_number.remove(&key).map(|f| f.room)
    }

    /// Takes every message whose answer is overdue at `now_ms`:
    /// (connection, client message id).
    pub fn overdue(&mut self, now_ms: u64) -> Vec<(ConnRef, i64)> {
        let mut out = Vec::new();
        self.by_number.retain(|&(conn, _), f| {
            let due = f.deadline_ms <= now_ms;
            if due {
                out.push((conn, f.id));
            }
            !due
        });
        out
    }

    /// Drops the messages of a connection that closed.
    pub fn closed(&mut self, conn: ConnRef) {
        self.by_number.retain(|&(c, _), _| c != conn);
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.by_number.is_empty()
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
    fn answers_take_exactly_the_message_they_name_even_with_repeated_ids() {
        let mut a = Awaiting::default();
        let first = a.add(C, 7, 0, None);
        let second = a.add(C, 7, 10, None);
        assert_ne!(first, second);
        assert!(a.answered(C, second, reply(7)).is_some());
        assert!(a.answered(C, first, reply(8)).is_none(), "another id");
        assert_eq!(a.overdue(ANSWER_MS - 1), vec![]);
        assert_eq!(a.overdue(ANSWER_MS), vec![(C, 7)], "the first one waited");
        assert!(a.is_empty());
        assert!(a.answered(C, first, reply(7)).is_none(), "a late answer");
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
