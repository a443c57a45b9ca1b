//! What the loadgen puts on the wire and how it reads what comes back,
//! without sockets: the content stamp every message carries, the frames it
//! sends, and the classification of the server's text frames.

pub mod content;
pub mod inbound;
pub mod outbound;
mod scan;

pub use content::{Dst, Stamp};

/// The `"id"` of an API answer's `data` object (`{"code":0,..,"data":{"id":..}}`).
pub fn inbound_id(answer: &[u8]) -> Option<i64> {
    let data = memchr::memmem::find(answer, br#""data":"#)?;
    scan::int_after(&answer[data..], br#""id":"#)
}
