//! Cluster mode: nodes behind nginx's consistent hash exchange messages over
//! UDP (PROTOCOL.md section 6, ARCHITECTURE.md "Cluster").
//!
//! Sans-IO like the rest of the protocol code: `wire` turns frames and
//! control records into authenticated, sequenced datagrams and back. The
//! sockets and routing live in `server`.

pub mod wire;
