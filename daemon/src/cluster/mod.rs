//! Several imedge nodes behind nginx. nginx sends each user to a node with
//! `hash $arg_id consistent`; every node rebuilds the same ring from the same
//! `server` strings ([`ring`]), so it knows, without asking anyone, which node
//! owns any user and sends that user's messages there only. The ring is
//! sans-IO: server text and keys in, owner indices out.

pub mod ring;
pub mod server_line;

pub use ring::{Ring, RingError};
pub use server_line::{Server, ServerError};
