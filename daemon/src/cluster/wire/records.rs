//! The small fixed-size records: a frame's target, presence and membership
//! changes. Batched many to a datagram.

use bytes::BufMut;

use super::drop_reason::DropReason;
use super::reader::Reader;

/// Who a frame is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every connection of one user.
    User(i64),
    /// The members of one group connected to the receiving node.
    Group(i64),
    /// Only in fragments: the reassembled bytes are a forwarded message of
    /// user `id` (see [`Submit::whole`](super::Submit::whole)); never in a
    /// deliver body.
    Submit(i64),
}

impl Target {
    /// Encoded size: kind byte and id.
    pub const LEN: usize = 9;

    /// The user's, group's or submit sender's id.
    pub fn id(self) -> i64 {
        match self {
            Target::User(id) | Target::Group(id) | Target::Submit(id) => id,
        }
    }

    pub(super) fn put(&self, out: &mut impl BufMut) {
        let (kind, id) = match *self {
            Target::User(id) => (0u8, id),
            Target::Group(id) => (1, id),
            Target::Submit(id) => (2, id),
        };
        out.put_u8(kind);
        out.put_i64(id);
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Target, DropReason> {
        let kind = r.u8()?;
        let id = r.i64()?;
        match kind {
            0 => Ok(Target::User(id)),
            1 => Ok(Target::Group(id)),
            2 => Ok(Target::Submit(id)),
            _ => Err(DropReason::Malformed),
        }
    }
}

/// The sending node's core `core` has connections for `target` (a user,
/// or members of a group) now, or no longer: an entry of the presence
/// registry kept by the target's owner node, which forwards the target's
/// frames to every node with an entry. Per core, because a group's
/// members are spread over a node's cores: the registry keeps a mask of
/// cores per node, and setting or clearing a bit twice is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presence {
    /// The user or group (never a submit target).
    pub target: Target,
    /// The sender's core whose connections changed.
    pub core: u16,
    /// Online (true) or offline (false).
    pub online: bool,
}

impl Presence {
    /// Encoded size.
    pub const LEN: usize = Target::LEN + 3;

    pub(super) fn put(&self, out: &mut impl BufMut) {
        self.target.put(out);
        out.put_u16(self.core);
        out.put_u8(self.online.into());
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Presence, DropReason> {
        let target = Target::read(r)?;
        if let Target::Submit(_) = target {
            return Err(DropReason::Malformed);
        }
        Ok(Presence {
            target,
            core: r.u16()?,
            online: r.flag()?,
        })
    }
}

/// User `uid` joined or left group `gid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The user.
    pub uid: i64,
    /// The group.
    pub gid: i64,
    /// Joined (true) or left (false).
    pub joined: bool,
}

impl Membership {
    /// Encoded size.
    pub const LEN: usize = 17;

    pub(super) fn put(&self, out: &mut impl BufMut) {
        out.put_i64(self.uid);
        out.put_i64(self.gid);
        out.put_u8(self.joined.into());
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Membership, DropReason> {
        Ok(Membership {
            uid: r.i64()?,
            gid: r.i64()?,
            joined: r.flag()?,
        })
    }
}

/// Reads records of `LEN` bytes until the body ends; a partial record or an
/// empty body is malformed.
pub(super) fn read_all<T>(
    body: &[u8],
    len: usize,
    read: impl Fn(&mut Reader<'_>) -> Result<T, DropReason>,
) -> Result<Vec<T>, DropReason> {
    if body.is_empty() || !body.len().is_multiple_of(len) {
        return Err(DropReason::Malformed);
    }
    let mut r = Reader::new(body);
    let mut out = Vec::with_capacity(body.len() / len);
    while r.remaining() > 0 {
        out.push(read(&mut r)?);
    }
    Ok(out)
}
