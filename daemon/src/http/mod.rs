//! HTTP/1.1 on the WebSocket port, sans-IO: request heads in, decisions and
//! response bytes out.
//!
//! * [`request`]: parse a request head (`Partial` until the blank line).
//! * [`body`]: form and JSON request bodies of the HTTP API.
//! * [`query`]: query strings and form bodies, percent-decoded.
//! * [`upgrade`]: the `/chat` handshake checks of PROTOCOL.md section 1.
//! * [`response`]: status lines, JSON error bodies, the 101 answer.

pub mod body;
pub mod query;
pub mod request;
pub mod response;
pub mod upgrade;

pub use body::{parse_fields, BodyError, Fields};
pub use query::{form_decode, pairs, query_param};
pub use request::{
    parse_head, HeadError, Method, Parsed, RequestHead, MAX_HEADERS, MAX_HEAD_BYTES,
};
pub use response::{json_error, json_ok, reason_phrase, switching_protocols, text, with_headers};
pub use upgrade::{check_origin, check_upgrade, Rejection, UpgradeRequest};
