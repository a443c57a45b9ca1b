//! The group endpoints: create, join, leave and list communities. Joining
//! or leaving re-indexes the member's live connections at once, on the core
//! that holds them, before the answer goes out.

use bytes::BufMut;

use super::{id_field, store_failure, text_field, Failure};
use crate::cluster::wire::{Item, Membership};
use crate::http::Fields;
use crate::msg::json::{put_int, put_str};
use crate::route::core_of;
use crate::server::cluster::Owner;
use crate::server::core::Core;
use crate::server::inbox::CoreMsg;
use crate::store::Group;

/// Longest group name accepted, in bytes.
pub const MAX_NAME: usize = 64;

/// `{id, name, ownerid, icon, memo}`, plus `members` when the count is known.
fn group_json(out: &mut Vec<u8>, g: &Group, members: Option<u64>) {
    out.put_slice(br#"{"id":"#);
    put_int(out, g.id);
    out.put_slice(br#","name":"#);
    put_str(out, &g.name);
    out.put_slice(br#","ownerid":"#);
    put_int(out, g.owner);
    out.put_slice(br#","icon":"#);
    put_str(out, &g.icon);
    out.put_slice(br#","memo":"#);
    put_str(out, &g.memo);
    if let Some(n) = members {
        out.put_slice(br#","members":"#);
        put_int(out, n);
    }
    out.put_u8(b'}');
}

/// Re-indexes `uid`'s live connections on their core and waits until done.
/// In a cluster, also tells the node keeping the group (whose membership
/// cache must not outlive a leave) and the node owning the user (where its
/// connections are) if those are other nodes.
async fn reindex(core: &Core, uid: i64, gid: i64, joined: bool) {
    if let Some(cluster) = &core.shared.cluster {
        let mut told = None;
        for owner in [cluster.keeper_of(gid), cluster.owner_of(uid)] {
            if let Owner::Node(node) = owner {
                if told != Some(node) {
                    let record = Membership { uid, gid, joined };
                    cluster.send(node, Item::Membership(record));
                    told = Some(node);
                }
            }
        }
    }
    let (done, wait) = flume::bounded(1);
    let owner = core_of(uid, core.shared.cores());
    core.send(
        owner,
        CoreMsg::Membership {
            uid,
            gid,
            joined,
            done,
        },
    );
    let _ = wait.recv_async().await;
}

/// Creates a group owned and joined by `uid`, with its optional `icon`
/// (a picture URL or path) and `memo` (at most 1,024 bytes each).
pub async fn create(core: &Core, uid: i64, f: &Fields) -> Result<Vec<u8>, Failure> {
    let name = text_field(f, "name", MAX_NAME)?
        .ok_or((400, format!("name must be 1 to {MAX_NAME} bytes")))?;
    let icon = text_field(f, "icon", 1024)?.unwrap_or_default().to_owned();
    let memo = text_field(f, "memo", 1024)?.unwrap_or_default().to_owned();
    let (store, name) = (core.shared.store.clone(), name.to_owned());
    let g = core
        .shared
        .offload
        .run(move || {
            store
                .ensure_user(uid)
                .and_then(|()| store.create_group(uid, &name, &icon, &memo))
        })
        .await?
        .map_err(store_failure)?;
    reindex(core, uid, g.id, true).await;
    let mut out = Vec::new();
    group_json(&mut out, &g, None);
    Ok(out)
}

/// Adds `uid` to group `dstid`.
pub async fn join(core: &Core, uid: i64, f: &Fields) -> Result<Vec<u8>, Failure> {
    let gid = id_field(f, "dstid")?;
    core.shared
        .store
        .join_group(gid, uid)
        .map_err(store_failure)?;
    reindex(core, uid, gid, true).await;
    Ok(b"null".to_vec())
}

/// Removes `uid` from group `dstid`.
pub async fn leave(core: &Core, uid: i64, f: &Fields) -> Result<Vec<u8>, Failure> {
    let gid = id_field(f, "dstid")?;
    core.shared
        .store
        .leave_group(gid, uid)
        .map_err(store_failure)?;
    reindex(core, uid, gid, false).await;
    Ok(b"null".to_vec())
}

/// `[{id, name, ownerid, members}]` of `uid`'s groups.
pub async fn load(core: &Core, uid: i64) -> Result<Vec<u8>, Failure> {
    let store = core.shared.store.clone();
    let groups = core
        .shared
        .offload
        .run(move || {
            store
                .user_groups(uid)?
                .into_iter()
                .try_fold(Vec::new(), |mut all, g| {
                    all.push((store.member_count(g.id)?, g));
                    Ok(all)
                })
        })
        .await?
        .map_err(store_failure)?;
    let mut out = vec![b'['];
    for (i, (members, g)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        group_json(&mut out, g, *members);
    }
    out.push(b']');
    Ok(out)
}
