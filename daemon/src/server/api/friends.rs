//! `/contact/addfriend` (mutual; by user id or by mobile number) and
//! `/contact/loadfriend`.

use bytes::BufMut;

use super::accounts::mobile_field;
use super::{id_field, store_failure, Failure};
use crate::http::Fields;
use crate::msg::json::{put_int, put_str};
use crate::server::core::Core;
use crate::server::shared::unix_secs;

/// Friend lookups by mobile number per user per minute.
pub const LOOKUPS_PER_USER: u32 = 30;

/// Befriends `uid` with user `dstid`, or with the user registered as
/// `mobile` when `dstid` is absent, both ways.
pub async fn add(core: &Core, uid: i64, f: &Fields) -> Result<Vec<u8>, Failure> {
    let other = if f.get("dstid").is_none() && f.get("mobile").is_some() {
        by_mobile(core, uid, mobile_field(f)?).await?
    } else {
        id_field(f, "dstid")?
    };
    if other == uid {
        return Err((400, "cannot befriend yourself".to_owned()));
    }
    core.shared
        .store
        .add_friend(uid, other)
        .map_err(store_failure)?;
    Ok(b"null".to_vec())
}

/// The user registered as `mobile`, looked up off the core. Lookups are
/// limited per asking user so the endpoint cannot list who is registered.
async fn by_mobile(core: &Core, uid: i64, mobile: &str) -> Result<i64, Failure> {
    if !core
        .shared
        .limiter
        .allow(&format!("lookup:{uid}"), LOOKUPS_PER_USER, unix_secs())
    {
        return Err((429, "too many lookups by mobile; wait a minute".to_owned()));
    }
    let (store, wanted) = (core.shared.store.clone(), mobile.to_owned());
    core.shared
        .offload
        .run(move || store.account_by_mobile(&wanted))
        .await?
        .map_err(store_failure)?
        .map(|a| a.uid)
        .ok_or_else(|| (404, format!("no user registered with mobile {mobile}")))
}

/// `[{id, nickname}]` of `uid`'s friends.
pub async fn load(core: &Core, uid: i64) -> Result<Vec<u8>, Failure> {
    let store = core.shared.store.clone();
    let friends = core
        .shared
        .offload
        .run(move || store.friends(uid))
        .await?
        .map_err(store_failure)?;
    let mut out = vec![b'['];
    for (i, (id, nickname)) in friends.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(br#"{"id":"#);
        put_int(&mut out, *id);
        out.put_slice(br#","nickname":"#);
        put_str(&mut out, nickname);
        out.put_u8(b'}');
    }
    out.put_u8(b']');
    Ok(out)
}
