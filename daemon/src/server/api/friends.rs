//! `/contact/addfriend` (mutual) and `/contact/loadfriend`.

use bytes::BufMut;

use super::{id_field, store_failure, Failure};
use crate::http::Fields;
use crate::msg::json::{put_int, put_str};
use crate::server::core::Core;

/// Befriends `uid` with user `dstid`, both ways.
pub async fn add(core: &Core, uid: i64, f: &Fields) -> Result<Vec<u8>, Failure> {
    let other = id_field(f, "dstid")?;
    if other == uid {
        return Err((400, "cannot befriend yourself".to_owned()));
    }
    core.shared
        .store
        .add_friend(uid, other)
        .map_err(store_failure)?;
    Ok(b"null".to_vec())
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
