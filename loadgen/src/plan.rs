//! Who is who in a run: user ids, groups, pairs, and how users are split
//! into units (kept together on one core: a pair, or a group) so that in
//! peer mode a delivery can free its sender's window slot without leaving
//! the core. Every process of a run computes the same plan from the flags.

use std::collections::HashMap;
use std::ops::Range;

use crate::cli::{Args, Pairs, Scenario};
use crate::proto::Dst;

/// The users and groups of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// First user id; user `i` has id `base + i`.
    pub base: i64,
    /// Number of users.
    pub users: usize,
    /// Members per group; group `g` holds users `g*size .. (g+1)*size`.
    pub group_size: usize,
    /// Group ids, by group index.
    pub gids: Vec<i64>,
    /// Group index by group id.
    gid_index: HashMap<i64, usize>,
    /// How single messages pick a recipient.
    pub pairs: Pairs,
    /// Share of messages to rooms (mixed, storm).
    pub room_share: f64,
    /// Users per unit (the last unit may be shorter).
    pub unit_size: usize,
    /// Partners chosen by ring owner (`--pairs same-node|cross-node`), by
    /// user index; set by [`Plan::pair_by_owner`].
    owner_partners: Option<Vec<Option<u32>>>,
}

impl Plan {
    /// The plan of `args`; `gids` come from the HTTP set-up (imedge) or from
    /// [`Plan::peer_gids`].
    pub fn new(args: &Args, gids: Vec<i64>) -> Plan {
        let group_size = args.group_size.max(1);
        let unit_size = if args.scenario.uses_rooms() && !gids.is_empty() {
            group_size
        } else {
            2
        };
        let gid_index = gids.iter().enumerate().map(|(i, &g)| (g, i)).collect();
        Plan {
            scenario: args.scenario,
            base: args.uid_base(),
            users: args.users,
            group_size,
            gids,
            gid_index,
            pairs: args.pairs,
            room_share: args.room_share,
            unit_size,
            owner_partners: None,
        }
    }

    /// Fixes each user's partner by its owner node (`owners[i]` for user
    /// index `i`), when `--pairs` asks for it. Such pairs may span units:
    /// only peer mode needs a pair on one core, and it has no ring.
    pub fn pair_by_owner(&mut self, owners: &[usize]) {
        if let Some(side) = self.pairs.by_owner() {
            self.owner_partners = Some(crate::pairing::partners(owners, side));
        }
    }

    /// How many groups `args` asks for, bounded by the users available.
    pub fn group_count(args: &Args) -> usize {
        if !args.scenario.uses_rooms() {
            return 0;
        }
        args.groups.min(args.users / args.group_size.max(1))
    }

    /// The peers' fixed groups: group of user u is u / group_size.
    pub fn peer_gids(args: &Args) -> Vec<i64> {
        let size = args.group_size.max(1) as i64;
        let base = args.uid_base();
        (0..Plan::group_count(args) as i64)
            .map(|g| (base + g * size) / size)
            .collect()
    }

    /// User id of user index `i`.
    pub fn uid(&self, i: usize) -> i64 {
        self.base + i as i64
    }

    /// User index of `uid`, if it is one of ours.
    pub fn index(&self, uid: i64) -> Option<usize> {
        let i = usize::try_from(uid - self.base).ok()?;
        (i < self.users).then_some(i)
    }

    /// Group index of user `i`.
    pub fn group_of(&self, i: usize) -> Option<usize> {
        let g = i / self.group_size;
        (g < self.gids.len()).then_some(g)
    }

    /// User indices of group `g`.
    pub fn members(&self, g: usize) -> Range<usize> {
        g * self.group_size..((g + 1) * self.group_size).min(self.users)
    }

    /// The fixed chat partner of user `i`: the one chosen by owner node, or
    /// else its neighbour within its unit.
    pub fn partner(&self, i: usize) -> Option<usize> {
        if let Some(p) = &self.owner_partners {
            return p[i].map(|j| j as usize);
        }
        let unit = self.unit_range(i / self.unit_size);
        let j = i ^ 1;
        if unit.contains(&j) {
            Some(j)
        } else if i > unit.start {
            // Odd-sized unit: the last user talks to its predecessor.
            Some(i - 1)
        } else {
            None
        }
    }

    /// Number of units.
    pub fn units(&self) -> usize {
        self.users.div_ceil(self.unit_size)
    }

    /// User indices of unit `u`.
    pub fn unit_range(&self, u: usize) -> Range<usize> {
        u * self.unit_size..((u + 1) * self.unit_size).min(self.users)
    }

    /// Whether user `i` sends anything in this scenario.
    pub fn is_sender(&self, i: usize) -> bool {
        let chat =
            self.scenario.uses_chat() && (self.pairs == Pairs::Random || self.partner(i).is_some());
        let room = self.scenario.uses_rooms() && self.group_of(i).is_some();
        match self.scenario {
            Scenario::Connect => false,
            Scenario::Chat => chat && self.users > 1,
            Scenario::Room => room,
            Scenario::Mixed | Scenario::Storm => chat || room,
        }
    }

    /// The users a message of stream (sender, dst) must reach.
    pub fn recipients(&self, sender: i64, dst: Dst) -> Vec<i64> {
        match dst {
            Dst::User(u) => vec![u],
            Dst::Group(gid) => match self.gid_index.get(&gid) {
                Some(&g) => self
                    .members(g)
                    .map(|i| self.uid(i))
                    .filter(|&u| u != sender)
                    .collect(),
                None => Vec::new(),
            },
        }
    }

    /// How many users a message to `dst` from `sender` must reach.
    pub fn recipient_count(&self, sender: i64, dst: Dst) -> u32 {
        match dst {
            Dst::User(_) => 1,
            Dst::Group(gid) => match self.gid_index.get(&gid) {
                Some(&g) => {
                    let m = self.members(g);
                    let own = self.index(sender).is_some_and(|i| m.contains(&i));
                    (m.len() - usize::from(own)) as u32
                }
                None => 0,
            },
        }
    }

    /// The group id of group index `g`.
    pub fn gid(&self, g: usize) -> i64 {
        self.gids[g]
    }

    /// The units of worker `w` of `workers`: a contiguous block.
    pub fn worker_units(&self, w: usize, workers: usize) -> Range<usize> {
        let n = self.units();
        n * w / workers..n * (w + 1) / workers
    }

    /// The user indices that core `c` of `cores` of a process holding
    /// `units` serves: every `cores`-th unit.
    pub fn core_users(&self, units: Range<usize>, c: usize, cores: usize) -> Vec<usize> {
        units
            .skip(c)
            .step_by(cores)
            .flat_map(|u| self.unit_range(u))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(extra: &[&str], gids: Vec<i64>) -> Plan {
        let mut argv = vec!["lg"];
        argv.extend_from_slice(extra);
        argv.extend_from_slice(&["--url", "ws://127.0.0.1:1/chat"]);
        Plan::new(&Args::parse_from(argv), gids)
    }

    #[test]
    fn pairs_stay_inside_units() {
        let p = plan(&["chat", "--users", "5"], vec![]);
        assert_eq!(p.unit_size, 2);
        assert_eq!(p.units(), 3);
        assert_eq!(
            (0..5).map(|i| p.partner(i)).collect::<Vec<_>>(),
            vec![Some(1), Some(0), Some(3), Some(2), None]
        );
        assert!(!p.is_sender(4));
    }

    #[test]
    fn groups_are_units_and_exclude_the_sender() {
        let p = plan(
            &["room", "--users", "7", "--groups", "2", "--group-size", "3"],
            vec![40, 41],
        );
        assert_eq!(p.unit_size, 3);
        assert_eq!(p.group_of(5), Some(1));
        assert_eq!(p.group_of(6), None);
        assert_eq!(
            p.recipients(p.uid(4), Dst::Group(41)),
            vec![p.uid(3), p.uid(5)]
        );
        assert_eq!(p.recipient_count(p.uid(4), Dst::Group(41)), 2);
        assert!(p.is_sender(5) && !p.is_sender(6));
        // Units split over 2 cores, then over 2 workers.
        assert_eq!(p.core_users(0..3, 1, 2), vec![3, 4, 5]);
        assert_eq!(p.worker_units(1, 2), 1..3);
    }

    #[test]
    fn peer_groups_follow_uid_division() {
        let args = Args::parse_from([
            "lg",
            "room",
            "--peer",
            "--users",
            "200",
            "--group-size",
            "100",
            "--url",
            "ws://x:1/",
        ]);
        assert_eq!(args.uid_base(), 100);
        assert_eq!(Plan::peer_gids(&args), vec![1, 2]);
    }
}
