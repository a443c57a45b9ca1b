//! The presence registry: which other nodes have connections for a user or
//! a group this node keeps, so that its frames reach them.
//!
//! Every core tells the keeper of each user and group it has connections
//! for (see [`Cluster::keeper_of`]) when the first connection arrives and
//! when the last one goes ([`announce`]); the keeper's core for that user
//! or group records it ([`received`]) and sends each frame it shows once to
//! every node recorded ([`relay`]). A visitor (a user connected to a node
//! that does not own it: a failover, a direct link) so gets its single
//! messages, and a room message reaches each node with members online once,
//! not every node.
//!
//! The registry is soft state. When a peer goes down or restarts, its
//! entries are dropped; when any peer's state changes, every core tells the
//! keepers again of everything it has connections for ([`peer_changed`]),
//! since the keepers may have moved or lost what they knew. A record that
//! is lost on the way costs live delivery to that node until the next
//! change, never a message: the store has it, and sync brings it.
//!
//! [`Cluster::keeper_of`]: super::cluster::Cluster::keeper_of

use bytes::Bytes;

use super::cluster::{Cluster, Owner};
use super::core::Core;
use crate::cluster::wire::{DeliverItem, Item, NodeId, Presence, Target};
use crate::fasthash::FastMap;
use crate::shard::Present;
use crate::ws::close as code;

/// The nodes with connections for each user and group this core keeps.
#[derive(Default)]
pub struct Registry {
    /// Per target: (node, mask of that node's cores with connections).
    remote: FastMap<Target, Vec<(NodeId, u64)>>,
}

impl Registry {
    /// Records that core `core` of `node` has (or no longer has)
    /// connections for `target`.
    pub fn set(&mut self, target: Target, node: NodeId, core: u16, online: bool) {
        // Cores past 63 share the last bit: a node that big still gets the
        // frames; it may keep them a little longer than needed.
        let bit = 1u64 << core.min(63);
        let nodes = self.remote.entry(target).or_default();
        match nodes.iter_mut().position(|(n, _)| *n == node) {
            Some(i) if online => nodes[i].1 |= bit,
            Some(i) => {
                nodes[i].1 &= !bit;
                if nodes[i].1 == 0 {
                    nodes.swap_remove(i);
                }
            }
            None if online => nodes.push((node, bit)),
            None => {}
        }
        if nodes.is_empty() {
            self.remote.remove(&target);
        }
    }

    /// The nodes with connections for `target`.
    pub fn nodes(&self, target: Target) -> impl Iterator<Item = NodeId> + '_ {
        self.remote
            .get(&target)
            .into_iter()
            .flat_map(|v| v.iter().map(|(n, _)| *n))
    }

    /// Forgets everything `node` said (it went down or restarted).
    pub fn drop_node(&mut self, node: NodeId) {
        self.remote.retain(|_, nodes| {
            nodes.retain(|(n, _)| *n != node);
            !nodes.is_empty()
        });
    }
}

fn target_of(p: Present) -> Target {
    match p {
        Present::User(u) => Target::User(u),
        Present::Group(g) => Target::Group(g),
    }
}

/// Tells the keeper of `present`, if another node keeps it, whether this
/// core has connections for it.
fn tell_keeper(core: &Core, cluster: &Cluster, present: Present, online: bool) {
    let target = target_of(present);
    if let Owner::Node(keeper) = cluster.keeper_of(target.id()) {
        let record = Presence {
            target,
            core: core.id as u16,
            online,
        };
        cluster.send(keeper, Item::Presence(record));
    }
}

/// Tells the keepers of the users and groups whose first connection on
/// this core just arrived, or whose last just went.
pub fn announce(core: &Core) {
    let changes = core.shard.borrow_mut().take_changes();
    let Some(cluster) = &core.shared.cluster else {
        return;
    };
    for (present, online) in changes {
        tell_keeper(core, cluster, present, online);
    }
}

/// Records a presence change `from` sent for a user or group this core keeps.
pub fn received(core: &Core, from: NodeId, p: Presence) {
    core.registry
        .borrow_mut()
        .set(p.target, from, p.core, p.online);
}

/// Sends a frame this core showed for `target` to every other node with
/// connections for it, except `skip` (the node that shows it itself).
pub fn relay(core: &Core, target: Target, frame: &Bytes, skip: Option<NodeId>) {
    let Some(cluster) = &core.shared.cluster else {
        return;
    };
    let registry = core.registry.borrow();
    for node in registry.nodes(target) {
        if Some(node) != skip && cluster.reachable(node) {
            let item = DeliverItem {
                target,
                frame: frame.clone(),
            };
            cluster.send(node, Item::Deliver(item));
        }
    }
}

/// A peer went down, came up or restarted: its registry entries here are
/// dropped, so is the numbering of logs this node keeps no more, every
/// keeper is told again what this core has connections for, and the users
/// this node held only while `node` was down are closed with 1012 so that
/// they reconnect, through nginx, to their owner.
pub fn peer_changed(core: &Core, node: NodeId, up: bool) {
    let Some(cluster) = &core.shared.cluster else {
        return;
    };
    core.registry.borrow_mut().drop_node(node);
    core.forget_logs_moved();
    let present: Vec<Present> = core.shard.borrow().present().collect();
    for p in present {
        tell_keeper(core, cluster, p, true);
    }
    if up {
        let moved: Vec<u32> = core
            .shard
            .borrow()
            .users()
            .filter(|&(uid, _)| cluster.owner_of(uid) == Owner::Node(node))
            .flat_map(|(_, keys)| keys.iter().copied())
            .collect();
        if !moved.is_empty() {
            tracing::info!(
                node,
                connections = moved.len(),
                "peer up: closing the connections of the users it owns"
            );
        }
        for key in moved {
            let r = core.shard.borrow().conn_ref(key);
            if let Some(r) = r {
                core.close(r, code::SERVICE_RESTART, "owner node is back");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_stays_registered_while_any_of_its_cores_has_connections() {
        let mut r = Registry::default();
        let g = Target::Group(5);
        r.set(g, 2, 0, true);
        r.set(g, 2, 1, true);
        r.set(g, 3, 0, true);
        r.set(g, 2, 0, false);
        let mut nodes: Vec<NodeId> = r.nodes(g).collect();
        nodes.sort();
        assert_eq!(nodes, vec![2, 3]);
        r.set(g, 2, 1, false);
        r.set(g, 2, 1, false);
        assert_eq!(r.nodes(g).collect::<Vec<_>>(), vec![3]);
        r.drop_node(3);
        assert_eq!(r.nodes(g).count(), 0);
        assert!(r.remote.is_empty(), "empty entries are dropped");
    }

    #[test]
    fn an_offline_record_for_an_unknown_node_changes_nothing() {
        let mut r = Registry::default();
        r.set(Target::User(1), 4, 2, false);
        assert!(r.remote.is_empty());
        r.set(Target::User(1), 4, 70, true);
        r.set(Target::User(1), 4, 63, false);
        assert_eq!(r.nodes(Target::User(1)).count(), 0, "core 70 shares bit 63");
    }
}
