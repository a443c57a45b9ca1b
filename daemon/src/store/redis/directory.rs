//! Accounts, friends and groups: the directory calls, each a few commands
//! on a pooled connection. Keys of different users or groups are never
//! named in one command or script (see [`keys`]); where a call touches two
//! slots it writes them in an order that a crash between leaves harmless
//! (an unused uid, a member set ahead of the user's group set).

use std::collections::HashSet;

use redis::Value;

use super::pool::Pool;
use super::{keys, scripts};
use crate::store::memory::FIRST_UID;
use crate::store::{Account, Group, StoreError};

/// Uids tried per registration before giving up (each skips a uid taken
/// by a user seen only through a token).
const MAX_UID_TRIES: usize = 1000;

/// Registers an account: claims the mobile number last, so two concurrent
/// registrations of one number leave exactly one account.
pub fn register(
    pool: &Pool,
    known: &dyn Fn(i64) -> bool,
    mobile: &str,
    password_hash: &str,
    nickname: &str,
) -> Result<Account, StoreError> {
    let mobile_key = keys::mobile(mobile);
    if pool
        .with(|c| c.query::<Option<i64>>(redis::cmd("GET").arg(&mobile_key)))?
        .is_some()
    {
        return Err(StoreError::MobileTaken);
    }
    let mut uid = None;
    for _ in 0..MAX_UID_TRIES {
        let n: i64 = pool.with(|c| c.query(redis::cmd("INCR").arg(keys::NEXT_UID)))?;
        let candidate = FIRST_UID - 1 + n;
        if known(candidate) {
            continue;
        }
        let user = keys::user(candidate);
        let claimed: i64 = pool.with(|c| {
            c.script(
                &scripts::CLAIM_ACCOUNT,
                &[&user],
                &[
                    mobile.as_bytes(),
                    password_hash.as_bytes(),
                    nickname.as_bytes(),
                ],
            )
        })?;
        if claimed == 1 {
            uid = Some(candidate);
            break;
        }
    }
    let uid = uid.ok_or_else(|| {
        StoreError::Unavailable(format!("no free uid after {MAX_UID_TRIES} tries"))
    })?;
    // NX, then a read: a SET repeated after an interrupted call must still
    // count as ours.
    let won: bool = pool.with(|c| {
        let set: Value = c.query(redis::cmd("SET").arg(&mobile_key).arg(uid).arg("NX"))?;
        if set != Value::Nil {
            return Ok(true);
        }
        let owner: Option<i64> = c.query(redis::cmd("GET").arg(&mobile_key))?;
        Ok(owner == Some(uid))
    })?;
    if !won {
        // A concurrent registration took the number between our check and now.
        pool.with(|c| c.query::<()>(redis::cmd("DEL").arg(keys::user(uid))))?;
        return Err(StoreError::MobileTaken);
    }
    Ok(Account {
        uid,
        mobile: mobile.to_owned(),
        password_hash: password_hash.to_owned(),
        nickname: nickname.to_owned(),
    })
}

/// The account registered with `mobile`.
pub fn account_by_mobile(pool: &Pool, mobile: &str) -> Result<Option<Account>, StoreError> {
    let Some(uid) =
        pool.with(|c| c.query::<Option<i64>>(redis::cmd("GET").arg(keys::mobile(mobile))))?
    else {
        return Ok(None);
    };
    let fields: (Option<String>, Option<String>, Option<String>) = pool.with(|c| {
        c.query(
            redis::cmd("HMGET")
                .arg(keys::user(uid))
                .arg("mobile")
                .arg("hash")
                .arg("nickname"),
        )
    })?;
    Ok(match fields {
        (Some(m), Some(hash), nick) if m == mobile => Some(Account {
            uid,
            mobile: m,
            password_hash: hash,
            nickname: nick.unwrap_or_default(),
        }),
        _ => None,
    })
}

/// Whether the user hash of `uid` exists.
pub fn user_exists(pool: &Pool, uid: i64) -> Result<bool, StoreError> {
    pool.with(|c| c.query(redis::cmd("EXISTS").arg(keys::user(uid))))
}

/// The nickname field of a known user (empty when it has none).
pub fn nickname(pool: &Pool, uid: i64) -> Result<String, StoreError> {
    let n: Option<String> =
        pool.with(|c| c.query(redis::cmd("HGET").arg(keys::user(uid)).arg("nickname")))?;
    Ok(n.unwrap_or_default())
}

/// Adds each to the other's friend set.
pub fn add_friend(pool: &Pool, a: i64, b: i64) -> Result<(), StoreError> {
    let cmds = [
        redis::cmd("SADD").arg(keys::friends(a)).arg(b).clone(),
        redis::cmd("SADD").arg(keys::friends(b)).arg(a).clone(),
    ];
    pool.with(|c| c.pipeline(&cmds)).map(drop)
}

/// The friends of `uid` with their nicknames, by uid.
pub fn friends(pool: &Pool, uid: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let mut ids: Vec<i64> =
        pool.with(|c| c.query(redis::cmd("SMEMBERS").arg(keys::friends(uid))))?;
    ids.sort_unstable();
    let cmds: Vec<_> = ids
        .iter()
        .map(|f| {
            redis::cmd("HGET")
                .arg(keys::user(*f))
                .arg("nickname")
                .clone()
        })
        .collect();
    let names = pool.with(|c| c.pipeline(&cmds))?;
    Ok(ids
        .into_iter()
        .zip(names)
        .map(|(f, n)| {
            (
                f,
                redis::from_owned_redis_value::<Option<String>>(n)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            )
        })
        .collect())
}

/// Creates a group owned and joined by `owner`.
pub fn create_group(
    pool: &Pool,
    owner: i64,
    name: &str,
    icon: &str,
    memo: &str,
) -> Result<Group, StoreError> {
    let id: i64 = pool.with(|c| c.query(redis::cmd("INCR").arg(keys::NEXT_GID)))?;
    let cmds = [
        redis::cmd("SADD").arg(keys::members(id)).arg(owner).clone(),
        redis::cmd("SADD")
            .arg(keys::user_groups(owner))
            .arg(id)
            .clone(),
        // Last: the group exists once its members are in place.
        redis::cmd("HSET")
            .arg(keys::group(id))
            .arg("name")
            .arg(name)
            .arg("owner")
            .arg(owner)
            .arg("icon")
            .arg(icon)
            .arg("memo")
            .arg(memo)
            .clone(),
    ];
    pool.with(|c| c.pipeline(&cmds))?;
    Ok(Group {
        id,
        name: name.to_owned(),
        owner,
        icon: icon.to_owned(),
        memo: memo.to_owned(),
    })
}

/// Whether group `gid` exists.
pub fn group_exists(pool: &Pool, gid: i64) -> Result<bool, StoreError> {
    pool.with(|c| c.query(redis::cmd("EXISTS").arg(keys::group(gid))))
}

/// Adds (`joined`) or removes `uid` in group `gid` (which must exist).
pub fn change_membership(pool: &Pool, gid: i64, uid: i64, joined: bool) -> Result<(), StoreError> {
    if !group_exists(pool, gid)? {
        return Err(StoreError::NoSuchGroup(gid));
    }
    let op = if joined { "SADD" } else { "SREM" };
    let cmds = [
        redis::cmd(op).arg(keys::members(gid)).arg(uid).clone(),
        redis::cmd(op).arg(keys::user_groups(uid)).arg(gid).clone(),
    ];
    pool.with(|c| c.pipeline(&cmds)).map(drop)
}

/// Whether `uid` is a member of `gid`.
pub fn is_member(pool: &Pool, gid: i64, uid: i64) -> Result<bool, StoreError> {
    pool.with(|c| c.query(redis::cmd("SISMEMBER").arg(keys::members(gid)).arg(uid)))
}

/// How many members group `gid` has (None: no such group).
pub fn member_count(pool: &Pool, gid: i64) -> Result<Option<u64>, StoreError> {
    if !group_exists(pool, gid)? {
        return Ok(None);
    }
    pool.with(|c| c.query(redis::cmd("SCARD").arg(keys::members(gid))))
        .map(Some)
}

/// The groups `uid` belongs to, by gid.
pub fn user_groups(pool: &Pool, uid: i64) -> Result<Vec<Group>, StoreError> {
    let ids: HashSet<i64> =
        pool.with(|c| c.query(redis::cmd("SMEMBERS").arg(keys::user_groups(uid))))?;
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    let cmds: Vec<_> = ids
        .iter()
        .map(|g| {
            redis::cmd("HMGET")
                .arg(keys::group(*g))
                .arg("name")
                .arg("owner")
                .arg("icon")
                .arg("memo")
                .clone()
        })
        .collect();
    let rows = pool.with(|c| c.pipeline(&cmds))?;
    let mut out = Vec::new();
    for (id, row) in ids.into_iter().zip(rows) {
        type Row = (Option<String>, Option<i64>, Option<String>, Option<String>);
        if let Ok((Some(name), Some(owner), icon, memo)) = redis::from_owned_redis_value::<Row>(row)
        {
            out.push(Group {
                id,
                name,
                owner,
                icon: icon.unwrap_or_default(),
                memo: memo.unwrap_or_default(),
            });
        }
    }
    Ok(out)
}
