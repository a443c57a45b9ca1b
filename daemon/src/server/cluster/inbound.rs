//! Where received items go: frames to the local connections of their user
//! or group, through the cores' inboxes; forwarded single messages and
//! their replies to [`crate::server::forward`].
//!
//! Presence and membership records are counted (in the engine) and logged
//! here; the presence registry and the membership sync are the routing
//! step's.

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
            Target::Group(gid) => {
                for c in 0..cores {
                    self.core.send(
                        c,
                        CoreMsg::Fanout {
                            gid,
                            frame: item.frame.clone(),
                            except: NOBODY,
                            seq: None,
                        },
                    );
                }
            }
        }
    }

    fn presence(&mut self, from: NodeId, record: Presence) {
        tracing::debug!(
            from,
            uid = record.uid,
            node = record.node,
            online = record.online,
            "presence record (not routed yet)"
        );
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
            joined = record.joined,
            "membership record (not routed yet)"
        );
    }
}
