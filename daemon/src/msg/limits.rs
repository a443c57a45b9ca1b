//! Per-field limits of a client message (PROTOCOL.md section 4, error 413).
//!
//! String limits count the bytes of the decoded string (after JSON escapes
//! are resolved), which is what a recipient stores and renders; the whole
//! message is already bounded by the WebSocket message limit.

/// Largest `pic`, `url` or `memo` value, in bytes.
pub const MAX_REF_LEN: usize = 4096;

/// Largest `content` value, in bytes.
pub const MAX_CONTENT_LEN: usize = 65536;

/// Most entries in the `groups` object of a sync request (cmd 30).
pub const MAX_SYNC_GROUPS: usize = 1024;
