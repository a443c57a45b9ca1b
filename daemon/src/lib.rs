//! imedge: an instant-messaging edge daemon.
//!
//! The protocol code (`ws`, `msg`, `http`, `auth`) is sans-IO: bytes and time in,
//! decisions and bytes out. The I/O lives in `server` (per-core runtimes, the
//! accept loop, the connection task) and talks to `shard` (one core's tables),
//! `route` (where a message goes) and `store` (sequences, groups, inboxes).

pub mod auth;
pub mod cluster;
pub mod config;
pub mod fasthash;
pub mod http;
pub mod metrics;
pub mod msg;
pub mod route;
pub mod server;
pub mod shard;
pub mod store;
pub mod ws;
