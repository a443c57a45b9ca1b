//! One core's connection table and its indexes, with no I/O: the server
//! keeps its socket handle in each entry and does the writing.

pub mod bucket;
pub mod outq;
pub mod pace;
pub mod sweep;
pub mod table;

pub use bucket::TokenBucket;
pub use outq::{OutQueue, Overflow};
pub use pace::Pace;
pub use sweep::{Liveness, Verdict};
pub use table::{Conn, ConnRef, Present, Shard};
