//! Cluster awareness: which node owns each user, by imedge's own ring (the
//! one nginx's `hash $arg_id consistent` uses), where a user connects when
//! the nodes are given directly, and whether a delivery crossed nodes.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context as _};
use imedge::cluster::Ring;

use crate::cli::Args;
use crate::plan::Plan;
use crate::target::Target;

/// The ring's view of a run's users.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The ring's server entries, in order.
    pub servers: Vec<String>,
    /// Owner (server index) by user index.
    owner: Vec<u16>,
    /// Target index by server index (`usize::MAX` for a down server); empty
    /// when every user goes through one URL (nginx).
    node_target: Vec<usize>,
}

impl Cluster {
    /// The cluster that `--ring` or `--ring-config` describes, if any.
    pub fn from_args(
        args: &Args,
        plan: &Plan,
        targets: &[Target],
    ) -> anyhow::Result<Option<Cluster>> {
        let ring = if let Some(spec) = &args.ring {
            parse_ring(spec)?
        } else if let Some(path) = &args.ring_config {
            let config = imedge::config::Config::from_file(path)?;
            let cluster = config
                .cluster
                .with_context(|| format!("{}: no [cluster] section", path.display()))?;
            cluster.ring()?
        } else {
            return Ok(None);
        };
        let direct = args.nginx.is_none();
        Cluster::new(&ring, plan, if direct { targets } else { &[] }).map(Some)
    }

    /// Owners of `plan`'s users on `ring`; with `targets` (direct URLs),
    /// each live server must be one of them.
    pub fn new(ring: &Ring, plan: &Plan, targets: &[Target]) -> anyhow::Result<Cluster> {
        let servers: Vec<String> = ring.servers().iter().map(|s| s.to_string()).collect();
        if servers.len() > usize::from(u16::MAX) {
            bail!("--ring: at most {} servers", u16::MAX);
        }
        let owner = (0..plan.users)
            .map(|i| {
                let uid = plan.uid(i);
                u64::try_from(uid)
                    .ok()
                    .and_then(|u| ring.owner_of_uid(u))
                    .map(|s| s as u16)
                    .with_context(|| {
                        format!("user {uid} has no owner on the ring: every server on its 21 points is down")
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let node_target = if targets.is_empty() {
            Vec::new()
        } else {
            route(ring, targets)?
        };
        Ok(Cluster {
            servers,
            owner,
            node_target,
        })
    }

    /// The owner (server index) of user index `i`.
    pub fn owner(&self, i: usize) -> usize {
        usize::from(self.owner[i])
    }

    /// The owner (server index) of every user, by user index.
    pub fn owners(&self) -> Vec<usize> {
        self.owner.iter().map(|&o| usize::from(o)).collect()
    }

    /// Whether a delivery from user index `sender` to `recipient` crosses
    /// nodes.
    pub fn crosses(&self, sender: usize, recipient: usize) -> bool {
        self.owner[sender] != self.owner[recipient]
    }

    /// The target user index `i` connects to, when the nodes are given
    /// directly: its owner's URL.
    pub fn target_index(&self, i: usize) -> Option<usize> {
        (!self.node_target.is_empty()).then(|| self.node_target[self.owner(i)])
    }

    /// Users owned by each server.
    pub fn users_per_server(&self) -> Vec<u64> {
        let mut n = vec![0; self.servers.len()];
        for &o in &self.owner {
            n[usize::from(o)] += 1;
        }
        n
    }
}

/// Parses `--ring`: nginx `server` entries separated by commas.
pub fn parse_ring(spec: &str) -> anyhow::Result<Ring> {
    let entries: Vec<&str> = spec.split(',').map(str::trim).collect();
    Ring::parse(&entries).map_err(|e| anyhow::anyhow!("--ring: {e}"))
}

/// Target index of each server: the URL whose `host:port` is the server's
/// address, as text or resolved. Every server that is not down needs one,
/// and every URL must be a server.
fn route(ring: &Ring, targets: &[Target]) -> anyhow::Result<Vec<usize>> {
    let mut used = vec![false; targets.len()];
    let mut out = Vec::with_capacity(ring.servers().len());
    for s in ring.servers() {
        let resolved: Vec<SocketAddr> = with_port(&s.address)
            .to_socket_addrs()
            .map(Iterator::collect)
            .unwrap_or_default();
        let found = targets
            .iter()
            .position(|t| t.host == s.address || resolved.contains(&t.addr));
        match found {
            Some(t) => {
                used[t] = true;
                out.push(t);
            }
            None if s.down => out.push(usize::MAX),
            None => bail!(
                "ring server `{}` has no --url: give ws://{}/chat (users it owns connect there)",
                s.address,
                s.address
            ),
        }
    }
    if let Some(t) = used.iter().position(|u| !u) {
        bail!(
            "--url {} is not a server of the ring (users connect to their owner's URL)",
            targets[t].host
        );
    }
    Ok(out)
}

/// The address with nginx's default port 80 when it has none.
fn with_port(address: &str) -> String {
    let has_port = address
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        address.to_owned()
    } else {
        format!("{address}:80")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(users: usize) -> Plan {
        let args = Args::parse_from([
            "lg",
            "chat",
            "--users",
            &users.to_string(),
            "--url",
            "ws://127.0.0.1:1/chat",
        ]);
        Plan::new(&args, Vec::new())
    }

    fn targets(urls: &[&str]) -> Vec<Target> {
        urls.iter().map(|u| Target::parse(u).unwrap()).collect()
    }

    #[test]
    fn users_connect_to_their_owners_url() {
        let ring = parse_ring("127.0.0.1:9001, 127.0.0.1:9002, 127.0.0.1:9003").unwrap();
        // Given in another order: matched by address, not position.
        let t = targets(&[
            "ws://127.0.0.1:9003/chat",
            "ws://localhost:9001/chat",
            "ws://127.0.0.1:9002",
        ]);
        let p = plan(200);
        let c = Cluster::new(&ring, &p, &t).unwrap();
        for i in 0..200 {
            let owner = ring.owner_of_uid(p.uid(i) as u64).unwrap();
            assert_eq!(c.owner(i), owner);
            let url = &t[c.target_index(i).unwrap()];
            assert_eq!(url.addr.port(), 9001 + owner as u16);
        }
        assert_eq!(c.users_per_server().iter().sum::<u64>(), 200);
        // The note's ids: 1 -> 9001, 2 -> 9003, 4 -> 9002.
        assert!(c.crosses(0, 1) && !c.crosses(0, 2) && c.crosses(1, 3));
        assert!(!c.crosses(4, 4));
    }

    #[test]
    fn the_ring_can_come_from_a_daemon_config() {
        let path = std::env::temp_dir().join(format!("lg-ring-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[cluster]\n\
             [[cluster.nodes]]\nid = 1\nserver = \"127.0.0.1:9001\"\nudp = \"127.0.0.1:7001\"\n\
             [[cluster.nodes]]\nid = 2\nserver = \"127.0.0.1:9002 weight=2\"\nudp = \"127.0.0.1:7002\"\n",
        )
        .unwrap();
        let args = Args::parse_from([
            "lg",
            "chat",
            "--users",
            "30",
            "--url",
            "ws://127.0.0.1:9001,ws://127.0.0.1:9002",
            "--ring-config",
            path.to_str().unwrap(),
        ]);
        let p = Plan::new(&args, Vec::new());
        let t = targets(&["ws://127.0.0.1:9001", "ws://127.0.0.1:9002"]);
        let c = Cluster::from_args(&args, &p, &t).unwrap().unwrap();
        let from_flag = Cluster::new(
            &parse_ring("127.0.0.1:9001,127.0.0.1:9002 weight=2").unwrap(),
            &p,
            &t,
        )
        .unwrap();
        assert_eq!(c.servers, ["127.0.0.1:9001", "127.0.0.1:9002 weight=2"]);
        assert!((0..30).all(|i| c.owner(i) == from_flag.owner(i)));
        std::fs::write(&path, "threads = 1\n").unwrap();
        let e = Cluster::from_args(&args, &p, &t).unwrap_err();
        assert!(e.to_string().contains("no [cluster] section"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn through_nginx_nobody_is_routed() {
        let ring = parse_ring("127.0.0.1:9001,127.0.0.1:9002").unwrap();
        let c = Cluster::new(&ring, &plan(10), &[]).unwrap();
        assert_eq!(c.target_index(3), None);
    }

    #[test]
    fn a_server_without_url_or_a_url_without_server_is_an_error() {
        let ring = parse_ring("127.0.0.1:9001,127.0.0.1:9002 weight=2").unwrap();
        let e = Cluster::new(&ring, &plan(4), &targets(&["ws://127.0.0.1:9001/chat"])).unwrap_err();
        assert!(
            e.to_string().contains("`127.0.0.1:9002` has no --url"),
            "{e}"
        );
        let e = Cluster::new(
            &ring,
            &plan(4),
            &targets(&[
                "ws://127.0.0.1:9001",
                "ws://127.0.0.1:9002",
                "ws://127.0.0.1:9009",
            ]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("127.0.0.1:9009 is not a server"),
            "{e}"
        );
        // A down server owns nobody and needs no URL.
        let ring = parse_ring("127.0.0.1:9001,127.0.0.1:9002 down").unwrap();
        let c = Cluster::new(&ring, &plan(50), &targets(&["ws://127.0.0.1:9001"])).unwrap();
        assert_eq!(c.users_per_server(), vec![50, 0]);
        let e = parse_ring("127.0.0.1:9001,").unwrap_err();
        assert!(e.to_string().contains("--ring: empty server entry"), "{e}");
        let ring = parse_ring("127.0.0.1:9001 down").unwrap();
        let e = Cluster::new(&ring, &plan(1), &[]).unwrap_err();
        assert!(e.to_string().contains("user 1 has no owner"), "{e}");
    }
}
