//! Where received items go: frames to the local connections of their user
//! or group, through the cores' inboxes; forwarded messages and their
//! replies to [`crate::server::forward`]; presence records to the core
//! keeping their user or group ([`crate::server::presence`]); membership
//! changes to the group's core (its membership cache) and the user's core
//! (its connections' group index); peer changes to every core.

use std::rc::Rc;

use crate::cluster::wire::{DeliverItem, Membership, NodeId, Presence, Reply, Submit, Target};
use crate::route::core_of;
use crate::server::core::Core;
use crate::server::inbox::CoreMsg;
use crate::server::origin::NOBODY;

use super::engine::Inbound;

/// Hands received frames to the cores of the cluster task's runtime.
pub struct ToCores {
    core: Rc<Core>,
}

impl ToCores {
    /// Routes through `core`'s batched sends to the other cores.
    pub fn new(core: Rc<Core>) -> ToCores {
        ToCores { core }
    }
}

impl Inbound for ToCores {
    fn deliver(&mut self, item: DeliverItem) {
        let cores = self.core.shared.cores();
        match item.target {
            Target::User(uid) => self.core.send(
                core_of(uid, cores),
                CoreMsg::PushUser {
                    uid,
                    frame: item.frame,
                },
            ),
            Target::Submit(sender) => {
                // The receiver hands these out as submits, never as frames.
                tracing::warn!(sender, "a submit target in a deliver item; dropped");
            }
            // A group's local members may be on any core.
            // Tracked with its seq like a local one, so a replay running
            // for a member skips it.
            Target::Group(gid) => {
                let seq = crate::msg::stamped_seq(&item.frame);
                self.core.fanout_all(gid, &item.frame, NOBODY, seq);
            }
        }
    }

    fn presence(&mut self, from: NodeId, record: Presence) {
        let to = core_of(record.target.id(), self.core.shared.cores());
        self.core.send(to, CoreMsg::Presence { from, record });
    }

    fn submit(&mut self, from: NodeId, submit: Submit) {
        crate::server::forward::submitted(&self.core, from, submit);
    }

    fn reply(&mut self, reply: Reply) {
        crate::server::forward::replied(&self.core, reply);
    }

    fn membership(&mut self, from: NodeId, record: Membership) {
        tracing::debug!(
            from,
            uid = record.uid,
            gid = record.gid,
            "membership change"
        );
        let cores = self.core.shared.cores();
        // Nobody waits for this re-index: the node that changed the
        // membership answered its API call already.
        let (done, _) = flume::bounded(1);
        self.core.send(
            core_of(record.uid, cores),
            CoreMsg::Membership {
                uid: record.uid,
                gid: record.gid,
                joined: record.joined,
                done,
            },
        );
    }
}

impl ToCores {
    /// Tells every core that `node` came up or went down.
    pub fn peer(&mut self, node: NodeId, up: bool) {
        for c in 0..self.core.shared.cores() {
            self.core.send(c, CoreMsg::Peer { node, up });
        }
    }
}
