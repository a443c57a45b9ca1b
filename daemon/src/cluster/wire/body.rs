//! Decoding an authenticated body by its kind.

use bytes::Bytes;

use super::control::{Heartbeat, Nack};
use super::deliver::Items;
use super::drop_reason::DropReason;
use super::forward::{Reply, Submit};
use super::fragment::Fragment;
use super::header::Kind;
use super::records::{read_all, Membership, Presence};

/// A datagram's decoded body.
#[derive(Clone, Debug)]
pub enum Body {
    /// Frames with their targets.
    Deliver(Items),
    /// Presence changes.
    Presence(Vec<Presence>),
    /// Membership changes.
    Membership(Vec<Membership>),
    /// The sender's liveness and view.
    Heartbeat(Heartbeat),
    /// Ranges the sender is missing.
    Nack(Nack),
    /// One piece of a large frame.
    Fragment(Fragment),
    /// Forwarded client messages.
    Submit(Vec<Submit>),
    /// Acks and errors for this node's connections.
    Reply(Vec<Reply>),
}

impl Body {
    /// Decodes `body` as the header's `kind` byte says; an unknown kind or
    /// any inconsistency is [`DropReason::Malformed`].
    pub fn decode(kind: u8, body: Bytes) -> Result<Body, DropReason> {
        let kind = Kind::from_u8(kind).ok_or(DropReason::Malformed)?;
        Ok(match kind {
            Kind::Deliver => Body::Deliver(Items::parse(body)?),
            Kind::Presence => Body::Presence(read_all(&body, Presence::LEN, Presence::read)?),
            Kind::Membership => {
                Body::Membership(read_all(&body, Membership::LEN, Membership::read)?)
            }
            Kind::Heartbeat => Body::Heartbeat(Heartbeat::read(&body)?),
            Kind::Nack => Body::Nack(Nack::read(&body)?),
            Kind::Fragment => Body::Fragment(Fragment::read(body)?),
            Kind::Submit => Body::Submit(Submit::read_all(&body)?),
            Kind::Reply => Body::Reply(Reply::read_all(&body)?),
        })
    }
}
