//! The group endpoints of the HTTP API (PROTOCOL.md section 5):
//! create, join, leave and list communities. Joining or leaving re-indexes
//! the member's live connections at once, on the core that holds them.

use bytes::BufMut;

use super::core::Core;
use super::inbox::CoreMsg;
use super::shared::unix_secs;
use crate::http::{self, Fields, Method, RequestHead};
use crate::msg::json::{put_int, put_str};
use crate::route::core_of;
use crate::store::{Group, StoreError};
use crate::{auth, store};

/// Longest group name accepted, in bytes.
pub const MAX_NAME: usize = 64;

/// An API failure: status and reason.
type Failure = (u16, String);

/// An API answer, to be written once `wait` (if any) says the member's live
/// connections follow the change.
pub struct Answer {
    /// The HTTP response.
    pub response: Vec<u8>,
    /// Completes when the core holding the member's connections has re-indexed them.
    pub wait: Option<flume::Receiver<()>>,
}

/// Answers an API path, or `None` when `head.path` is not one.
pub fn answer(core: &Core, head: &RequestHead, body: &[u8], keep_alive: bool) -> Option<Answer> {
    let op = match head.path.as_str() {
        "/contact/createcommunity" => create,
        "/contact/joincommunity" => join,
        "/contact/leavecommunity" => leave,
        "/contact/loadcommunity" => load,
        _ => return None,
    };
    let result = if head.method != Method::Post {
        Err((405, "use POST".to_owned()))
    } else {
        http::parse_fields(head.content_type.as_deref(), body)
            .map_err(|e| (e.status(), e.to_string()))
            .and_then(|f| Ok((authenticate(core, head, &f)?, f)))
            .and_then(|(uid, f)| op(core, uid, &f))
    };
    let (result, wait) = match result {
        Ok((data, wait)) => (Ok(data), wait),
        Err(e) => (Err(e), None),
    };
    let response = match result {
        Ok(data) => {
            let mut out = Vec::with_capacity(data.len() + 32);
            out.extend_from_slice(br#"{"code":0,"msg":"","data":"#);
            out.extend_from_slice(&data);
            out.push(b'}');
            http::json_ok(200, &out, keep_alive)
        }
        Err((status, msg)) => http::json_error(status, &msg, keep_alive),
    };
    Some(Answer { response, wait })
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

fn gid_field(f: &Fields) -> Result<i64, Failure> {
    f.get("dstid")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&g| g > 0)
        .ok_or((400, "dstid must be a positive group id".to_owned()))
}

fn group_json(out: &mut Vec<u8>, g: &Group) {
    out.put_slice(br#"{"id":"#);
    put_int(out, g.id);
    out.put_slice(br#","name":"#);
    put_str(out, &g.name);
    out.put_slice(br#","ownerid":"#);
    put_int(out, g.owner);
    out.put_u8(b'}');
}

/// A successful operation's JSON data and what to wait for before answering.
type Done = (Vec<u8>, Option<flume::Receiver<()>>);

/// Tells the core holding `uid`'s connections to re-index them.
fn notify(core: &Core, uid: i64, gid: i64, joined: bool) -> Option<flume::Receiver<()>> {
    let (done, wait) = flume::bounded(1);
    let owner = core_of(uid, core.shared.cores());
    core.shared.send(
        owner,
        CoreMsg::Membership {
            uid,
            gid,
            joined,
            done,
        },
    );
    Some(wait)
}

fn create(core: &Core, uid: i64, f: &Fields) -> Result<Done, Failure> {
    let name = f.get("name").map(str::trim).unwrap_or("");
    if name.is_empty() || name.len() > MAX_NAME {
        return Err((400, format!("name must be 1 to {MAX_NAME} bytes")));
    }
    let s: &dyn store::Store = &*core.shared.store;
    s.ensure_user(uid).map_err(store_failure)?;
    let g = s.create_group(uid, name).map_err(store_failure)?;
    let wait = notify(core, uid, g.id, true);
    let mut out = Vec::new();
    group_json(&mut out, &g);
    Ok((out, wait))
}

fn join(core: &Core, uid: i64, f: &Fields) -> Result<Done, Failure> {
    let gid = gid_field(f)?;
    core.shared
        .store
        .join_group(gid, uid)
        .map_err(store_failure)?;
    Ok((b"null".to_vec(), notify(core, uid, gid, true)))
}

fn leave(core: &Core, uid: i64, f: &Fields) -> Result<Done, Failure> {
    let gid = gid_field(f)?;
    core.shared
        .store
        .leave_group(gid, uid)
        .map_err(store_failure)?;
    Ok((b"null".to_vec(), notify(core, uid, gid, false)))
}

fn load(core: &Core, uid: i64, _f: &Fields) -> Result<Done, Failure> {
    let groups = core.shared.store.user_groups(uid).map_err(store_failure)?;
    let mut out = vec![b'['];
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        group_json(&mut out, g);
    }
    out.push(b']');
    Ok((out, None))
}
