//! Datagrams between nodes (PROTOCOL.md section 6), sans-IO: items and the
//! time in, sealed datagrams out; datagrams and the time in, decisions out.
//!
//! # Layout
//!
//! Every multi-byte integer is big-endian (network order).
//!
//! | offset  | size | field                                               |
//! |---------|------|-----------------------------------------------------|
//! | 0       | 4    | magic `IMdg`                                        |
//! | 4       | 1    | version, 1                                          |
//! | 5       | 1    | kind: 1 deliver, 2 presence, 3 membership, 4 heartbeat, 5 nack, 6 fragment, 7 submit, 8 reply |
//! | 6       | 2    | body length `n` (the datagram is `48 + n` bytes)    |
//! | 8       | 4    | sender node id                                      |
//! | 12      | 4    | destination node id                                 |
//! | 16      | 8    | sender incarnation: its start time in Unix ms (≥ 1) |
//! | 24      | 8    | sequence number, per (sender, destination, incarnation), from 1 |
//! | 32      | n    | body                                                |
//! | 32 + n  | 16   | HMAC-SHA256 under the cluster secret over bytes `0 .. 32 + n`, first 16 bytes |
//!
//! Bodies (offsets within the body):
//!
//! * deliver: items to the end, each `target kind` u8 (0 user, 1 group; 2
//!   only in fragments) at
//!   0, `target id` i64 at 1, `frame length` u16 (≥ 1) at 9, the frame's
//!   bytes at 11 — the WebSocket frame exactly as it goes to the recipients'
//!   connections, seq already stamped.
//! * presence: records of 12 bytes: target kind u8 (0 user, 1 group) at 0,
//!   target id i64 at 1, the sender's core u16 at 9, online u8 (0/1) at 11:
//!   that core of the sender has connections for the user (a visitor) or
//!   for members of the group now, or no longer. Sent to the target's
//!   keeper, which forwards the target's frames to every node with a core
//!   online (see `server::presence`).
//! * membership: records of 17 bytes: uid i64, gid i64, joined u8 (0/1):
//!   sent by the node that served the join or leave to the group's keeper
//!   (its membership cache) and the user's owner (its connections' index).
//! * heartbeat: config digest u64, then the node ids (u32) the sender sees up.
//! * nack: the incarnation of the node asked u64, then ranges of missing
//!   sequence numbers, each first u64 (≥ 1) and last u64 (inclusive, ≥ first).
//! * fragment: message id u64, index u16, count u16 (index < count), target
//!   kind u8, target id i64, then the piece (≥ 1 byte) to the end.
//! * submit: items to the end, each sender uid i64 at 0, the sending
//!   connection (core u16 at 8, slab key u32 at 10, generation u32 at 14,
//!   the sender's number for the message u32 at 18), `payload length` u16
//!   (≥ 1) at 22, the client's JSON object at 24: a
//!   cmd 10 or cmd 11, sent to the node keeping its log (the recipient's or
//!   the group's owner), which numbers, stores and shows it as if a local
//!   client had sent it. One too large for a datagram travels as
//!   fragments with target kind 2 (submit, id = the sender uid) whose
//!   reassembled bytes are the connection (14 bytes) and the JSON object.
//! * reply: items to the end, each the connection (14 bytes, as in the
//!   submit it answers), `frame length` u16 (≥ 1) at 14, the cmd 20 / cmd 21
//!   WebSocket frame at 16. For a room message the forwarding node stamps
//!   the room frame itself from the ack (seq, ts) for its own members: the
//!   keeper sends the frame to every other node with members online.
//!
//! The destination id in the header stops a datagram sealed for one node
//! being replayed to another; the incarnation lets a restarted node number
//! from 1 without its new datagrams looking like replays.
//!
//! # Pieces
//!
//! [`Outbox`] (send: sequence, batch, fragment, seal, keep history) and
//! [`Receiver`] (receive: open, window, decode, reassemble) are what the
//! daemon drives; the rest are their parts.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
pub mod body;
pub mod control;
pub mod deliver;
pub mod drop_reason;
pub mod forward;
pub mod fragment;
pub mod header;
pub mod history;
pub mod item;
pub mod mac;
pub mod outbox;
mod reader;
pub mod reassembly;
pub mod receiver;
pub mod records;
pub mod seal;
pub mod settings;
pub mod window;

#[cfg(test)]
mod tests;

pub use control::{Heartbeat, Nack, SeqRange};
pub use deliver::{DeliverItem, Items};
pub use drop_reason::DropReason;
pub use forward::{ConnTag, Reply, Submit};
pub use header::{Kind, NodeId};
pub use history::Unanswered;
pub use item::Item;
pub use mac::Key;
pub use outbox::{Datagram, Outbox, SendError};
pub use receiver::{Accepted, Payload, Receiver};
pub use records::{Membership, Presence, Target};
pub use seal::Sealer;
pub use settings::Settings;
