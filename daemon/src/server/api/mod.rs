//! The HTTP API of PROTOCOL.md section 5 on the WebSocket port: accounts,
//! friends and groups. Bodies are forms or JSON; answers are
//! `{"code":0,"msg":"","data":...}` or `{"code":-1,"msg":"<reason>"}` with a
//! real status.

mod accounts;
mod friends;
mod groups;
mod limiter;
mod offload;

use std::net::IpAddr;

pub use limiter::Limiter;
pub use offload::Offload;

use super::core::Core;
use super::shared::unix_secs;
use crate::auth;
use crate::http::{self, Fields, Method, RequestHead};
use crate::store::StoreError;

/// An API failure: HTTP status and reason.
pub type Failure = (u16, String);

/// Lifetime of the tokens register and login hand out.
pub const TOKEN_TTL_S: u64 = 7 * 24 * 3600;

const PATHS: [&str; 8] = [
    "/user/register",
    "/user/login",
    "/contact/addfriend",
    "/contact/loadfriend",
    "/contact/createcommunity",
    "/contact/joincommunity",
    "/contact/leavecommunity",
    "/contact/loadcommunity",
];

/// Answers an API path, or `None` when `head.path` is not one.
pub async fn answer(
    core: &Core,
    head: &RequestHead,
    body: &[u8],
    peer: IpAddr,
    keep_alive: bool,
) -> Option<Vec<u8>> {
    let path = head.path.as_str();
    if !PATHS.contains(&path) {
        return None;
    }
    Some(match call(core, path, head, body, peer).await {
        Ok(data) => {
            let mut out = Vec::with_capacity(data.len() + 32);
            out.extend_from_slice(br#"{"code":0,"msg":"","data":"#);
            out.extend_from_slice(&data);
            out.push(b'}');
            http::json_ok(200, &out, keep_alive)
        }
        Err((status, msg)) => http::json_error(status, &msg, keep_alive),
    })
}

async fn call(
    core: &Core,
    path: &str,
    head: &RequestHead,
    body: &[u8],
    peer: IpAddr,
) -> Result<Vec<u8>, Failure> {
    if head.method != Method::Post {
        return Err((405, "use POST".to_owned()));
    }
    let f = http::parse_fields(head.content_type.as_deref(), body)
        .map_err(|e| (e.status(), e.to_string()))?;
    match path {
        "/user/register" => return accounts::register(core, &f, peer).await,
        "/user/login" => return accounts::login(core, &f, peer).await,
        _ => {}
    }
    let uid = authenticate(core, head, &f)?;
    match path {
        "/contact/addfriend" => friends::add(core, uid, &f).await,
        "/contact/loadfriend" => friends::load(core, uid).await,
        "/contact/createcommunity" => groups::create(core, uid, &f).await,
        "/contact/joincommunity" => groups::join(core, uid, &f).await,
        "/contact/leavecommunity" => groups::leave(core, uid, &f).await,
        _ => groups::load(core, uid).await,
    }
}

/// The user a request acts for: `Authorization: Bearer <token>`, or
/// `userid` + `token` fields (seed style).
fn authenticate(core: &Core, head: &RequestHead, f: &Fields) -> Result<i64, Failure> {
    let bearer = head
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim);
    let (token, uid) = match bearer {
        Some(t) => (t, t.split('.').next().and_then(|u| u.parse().ok())),
        None => (
            f.get("token").unwrap_or(""),
            f.get("userid").and_then(|u| u.parse().ok()),
        ),
    };
    let uid: i64 = uid
        .filter(|&u| u > 0)
        .ok_or((401, "missing or invalid userid/token".to_owned()))?;
    auth::verify(&core.shared.secret, token, uid, unix_secs())
        .map_err(|e| (401, format!("token rejected: {e}")))?;
    Ok(uid)
}

/// The store's refusal as an HTTP failure.
fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::NoSuchGroup(g) => (404, format!("group {g} does not exist")),
        StoreError::NoSuchUser(u) => (404, format!("user {u} does not exist")),
        StoreError::MobileTaken => (409, "mobile number already registered".to_owned()),
        StoreError::Unavailable(_) => {
            tracing::warn!(error = %e, "store unavailable for an API call");
            (503, "store unavailable".to_owned())
        }
    }
}

/// A required positive id field.
fn id_field(f: &Fields, name: &str) -> Result<i64, Failure> {
    f.get(name)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&g| g > 0)
        .ok_or((400, format!("{name} must be a positive id")))
}

/// An optional text field of at most `max` bytes, trimmed.
fn text_field<'a>(f: &'a Fields, name: &str, max: usize) -> Result<Option<&'a str>, Failure> {
    match f.get(name).map(str::trim) {
        Some(v) if v.len() > max => Err((400, format!("{name} must be at most {max} bytes"))),
        Some("") | None => Ok(None),
        Some(v) => Ok(Some(v)),
    }
}
