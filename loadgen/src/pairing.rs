//! Fixed chat partners chosen by ring owner (`--pairs same-node` and
//! `--pairs cross-node`), so that one run measures only same-node or only
//! cross-node delivery. The choice depends on nothing but the owners, which
//! every worker process computes from the same flags, so every process
//! agrees on every pair without talking.

/// Where a user's partner must live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// On the user's own node.
    Same,
    /// On any other node.
    Other,
}

/// The partner (user index) of each user, given each user's owner node;
/// `None` when no user fits (a node owning a single user has no same-node
/// partner; with one node owning everybody, nobody has a cross-node one).
///
/// Pairs are mutual where possible, so each user receives as much as it
/// sends: with `Same`, neighbours in a node's list of users; with `Other`,
/// the users sorted by node and matched with the one half a list further on,
/// which lands on another node unless one node owns more than half of the
/// users. Those left over (that node's surplus, or the last of an odd
/// count) send to users of other nodes in turn, one way.
pub fn partners(owners: &[usize], side: Side) -> Vec<Option<u32>> {
    let n = owners.len();
    // Users sorted by node, then by index: each node's users are one block.
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| (owners[i as usize], i));
    let mut out = vec![None; n];
    let mut start = 0;
    while start < n {
        let owner = owners[order[start] as usize];
        let end = start + order[start..].partition_point(|&i| owners[i as usize] == owner);
        for pos in start..end {
            let user = order[pos] as usize;
            out[user] = match side {
                Side::Same => same_node(&order[start..end], pos - start),
                Side::Other => other_node(&order, owners, start..end, pos),
            };
        }
        start = end;
    }
    out
}

/// The partner of the `k`-th user of one node's `block`: its neighbour
/// (0 with 1, 2 with 3, ...); the last of an odd block talks to its
/// predecessor.
fn same_node(block: &[u32], k: usize) -> Option<u32> {
    if let Some(&p) = block.get(k ^ 1) {
        Some(p)
    } else if k > 0 {
        Some(block[k - 1])
    } else {
        None
    }
}

/// The partner of the user at `pos` of `order`, whose node's users fill
/// `block` of it.
fn other_node(
    order: &[u32],
    owners: &[usize],
    block: std::ops::Range<usize>,
    pos: usize,
) -> Option<u32> {
    let n = order.len();
    let half = n / 2;
    let mirror = if pos < half {
        Some(pos + half)
    } else if pos < 2 * half {
        Some(pos - half)
    } else {
        None
    };
    let owner = owners[order[pos] as usize];
    if let Some(m) = mirror.filter(|&m| owners[order[m] as usize] != owner) {
        return Some(order[m]);
    }
    // Everyone outside the block, starting right after it and wrapping.
    let others = n - block.len();
    if others == 0 {
        return None;
    }
    let k = (pos - block.start) % others;
    Some(order[(block.end + k) % n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(owners: &[usize], side: Side) -> Vec<Option<u32>> {
        let p = partners(owners, side);
        for (i, q) in p.iter().enumerate() {
            if let Some(q) = *q {
                let q = q as usize;
                assert_ne!(q, i, "user {i} paired with itself");
                let same = owners[q] == owners[i];
                assert_eq!(same, side == Side::Same, "user {i} -> {q}: {owners:?}");
            }
        }
        p
    }

    #[test]
    fn same_node_pairs_neighbours_within_each_node() {
        let owners = [0, 1, 0, 1, 0, 2];
        let p = check(&owners, Side::Same);
        // Node 0 holds 0, 2, 4: 0-2 mutual, 4 talks to 2; node 1: 1-3;
        // node 2 owns only user 5, who has nobody.
        assert_eq!(p, vec![Some(2), Some(3), Some(0), Some(1), Some(2), None]);
    }

    #[test]
    fn cross_node_pairs_are_mutual_when_no_node_owns_half() {
        let owners: Vec<usize> = (0..1000).map(|i| (i * 7 + i / 3) % 3).collect();
        let p = check(&owners, Side::Other);
        for (i, q) in p.iter().enumerate() {
            let q = q.expect("everyone has a partner") as usize;
            assert_eq!(p[q], Some(i as u32), "{i} -> {q} is one way");
        }
    }

    #[test]
    fn a_node_owning_most_users_sends_its_surplus_elsewhere() {
        // Node 1 owns 6 of 8: only 2 of its users can be matched mutually.
        let owners = [1, 1, 0, 1, 1, 2, 1, 1];
        let p = check(&owners, Side::Other);
        assert!(p.iter().all(Option::is_some), "{p:?}");
        // An odd count: the last user in node order has no mirror.
        let p = check(&[0, 1, 1], Side::Other);
        assert!(p.iter().all(Option::is_some), "{p:?}");
    }

    #[test]
    fn one_node_has_no_cross_node_partner() {
        assert_eq!(check(&[3, 3, 3], Side::Other), vec![None; 3]);
        assert_eq!(check(&[3], Side::Same), vec![None]);
        assert!(partners(&[], Side::Other).is_empty());
    }
}
