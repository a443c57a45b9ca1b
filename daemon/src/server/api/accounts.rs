//! `/user/register` and `/user/login`: Argon2id off the cores, attempts
//! limited per mobile and per client address.

use std::net::IpAddr;

use bytes::BufMut;

use super::{store_failure, text_field, Failure, TOKEN_TTL_S};
use crate::auth;
use crate::http::Fields;
use crate::msg::json::{put_int, put_str};
use crate::server::core::Core;
use crate::server::shared::unix_secs;
use crate::store::Account;

/// Login attempts per mobile number per minute.
pub const LOGINS_PER_MOBILE: u32 = 10;
/// Login and registration attempts per client address per minute.
pub const ATTEMPTS_PER_ADDRESS: u32 = 30;
/// Password length bounds, in bytes.
pub const PASSWORD_BYTES: std::ops::RangeInclusive<usize> = 6..=128;

/// The `mobile` field: 4 to 20 digits, optionally after a `+`.
pub(super) fn mobile_field(f: &Fields) -> Result<&str, Failure> {
    let m = f.get("mobile").map(str::trim).unwrap_or("");
    let digits = m.strip_prefix('+').unwrap_or(m);
    if (4..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(m)
    } else {
        Err((
            400,
            "mobile must be 4 to 20 digits, optionally after a +".to_owned(),
        ))
    }
}

fn password_field(f: &Fields) -> Result<&str, Failure> {
    let p = f.get("password").unwrap_or("");
    if PASSWORD_BYTES.contains(&p.len()) {
        Ok(p)
    } else {
        Err((
            400,
            format!(
                "password must be {} to {} bytes",
                PASSWORD_BYTES.start(),
                PASSWORD_BYTES.end()
            ),
        ))
    }
}

fn throttle(core: &Core, key: String, limit: u32) -> Result<(), Failure> {
    if core.shared.limiter.allow(&key, limit, unix_secs()) {
        Ok(())
    } else {
        Err((429, "too many attempts; wait a minute".to_owned()))
    }
}

/// `{id, token, nickname}` for a freshly authenticated account.
fn session(core: &Core, a: &Account) -> Vec<u8> {
    let token = auth::mint(&core.shared.secret, a.uid, unix_secs() + TOKEN_TTL_S);
    let mut out = Vec::with_capacity(160);
    out.put_slice(br#"{"id":"#);
    put_int(&mut out, a.uid);
    out.put_slice(br#","token":"#);
    put_str(&mut out, &token);
    out.put_slice(br#","nickname":"#);
    put_str(&mut out, &a.nickname);
    out.put_u8(b'}');
    out
}

/// The account of `mobile`, looked up off the core.
async fn lookup(core: &Core, mobile: &str) -> Result<Option<Account>, Failure> {
    let (store, mobile) = (core.shared.store.clone(), mobile.to_owned());
    core.shared
        .offload
        .run(move || store.account_by_mobile(&mobile))
        .await?
        .map_err(store_failure)
}

/// Registers `mobile` with `password` (and an optional `nickname`).
pub async fn register(core: &Core, f: &Fields, peer: IpAddr) -> Result<Vec<u8>, Failure> {
    let mobile = mobile_field(f)?;
    let password = password_field(f)?;
    let nickname = text_field(f, "nickname", 64)?.unwrap_or(mobile);
    throttle(core, format!("addr:{peer}"), ATTEMPTS_PER_ADDRESS)?;
    if lookup(core, mobile).await?.is_some() {
        return Err((409, "mobile number already registered".to_owned()));
    }
    let hash = core.shared.offload.hash(password).await?;
    let (store, mobile, nickname) = (
        core.shared.store.clone(),
        mobile.to_owned(),
        nickname.to_owned(),
    );
    let account = core
        .shared
        .offload
        .run(move || store.register(&mobile, &hash, &nickname))
        .await?
        .map_err(store_failure)?;
    Ok(session(core, &account))
}

/// Logs `mobile` in with `password`.
pub async fn login(core: &Core, f: &Fields, peer: IpAddr) -> Result<Vec<u8>, Failure> {
    let mobile = mobile_field(f)?;
    let password = f.get("password").unwrap_or("");
    throttle(core, format!("addr:{peer}"), ATTEMPTS_PER_ADDRESS)?;
    throttle(core, format!("mobile:{mobile}"), LOGINS_PER_MOBILE)?;
    let account = lookup(core, mobile).await?;
    let phc = account.as_ref().map(|a| a.password_hash.as_str());
    if !core.shared.offload.verify(password, phc).await? {
        return Err((401, "wrong mobile number or password".to_owned()));
    }
    Ok(session(
        core,
        &account.expect("verified against an account"),
    ))
}
