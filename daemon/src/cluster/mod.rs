//! Several imedge nodes behind nginx. nginx sends each user to a node with
//! `hash $arg_id consistent`; every node rebuilds the same ring from the same
//! `server` strings ([`ring`]), so it knows, without asking anyone, which node
//! owns any user and sends that user's messages there only. Between nodes,
//! [`wire`] turns frames and control records into authenticated, sequenced
//! UDP datagrams and back (PROTOCOL.md section 6).
//!
//! All of it is sans-IO: server text, keys, bytes and time in; owners,
//! datagrams and decisions out. The sockets and routing live in `server`.

pub mod ring;
pub mod server_line;
pub mod wire;

pub use ring::{Ring, RingError};
pub use server_line::{Server, ServerError};
