//! Exact delivery accounting. Every message belongs to a stream
//! (sender, destination) and carries the stream's next sequence number.
//! Senders keep, per stream, how many they sent and which the server
//! refused or never answered; receivers keep, per (receiver, stream), the
//! set of sequences they got. [`reckon`] joins the two at the end of a run
//! into sent, delivered, lost, duplicated and reordered counts.

mod reckon;
mod seqset;
mod streams;

pub use reckon::{reckon, Reckoning};
pub use seqset::{Insert, SeqSet};
pub use streams::{RxKey, RxStream, RxTable, TxKey, TxStream, TxTable};
