//! The loadgen's cluster awareness against real daemons: with `--ring`,
//! every user connects to its owner node (checked on each daemon's
//! /metrics), and the report's cross-node count is exactly what the ring
//! says, merged across worker processes.
//!
//! Two standalone daemons have no cluster transport, so a message between
//! them would not arrive. The runs are designed around that: direct runs
//! use pairs whose two users share a node (cross-node share 0); the
//! counting of crossings runs through one daemon standing in for nginx, with
//! the ring naming two nodes, and pairs that all cross (share 1).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{count, unique, Daemon, SECRET};
use imedge::cluster::Ring;
use serde_json::Value;

/// Users per run: 8 fixed pairs (user 2k talks with 2k+1).
const USERS: usize = 16;

/// /metrics of a [`Daemon`].
trait Connections {
    /// Open WebSocket connections, from /metrics (summed over cores).
    fn connections(&self) -> u64;
}

impl Connections for Daemon {
    fn connections(&self) -> u64 {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut r = BufReader::new(s);
        let mut length = 0;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body).unwrap();
        String::from_utf8(body)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("imedge_connections{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }
}

/// The loadgen with `args`, started; its JSON report goes to `out`.
fn spawn_loadgen(args: &[String], out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_imedge-loadgen"))
        .args(args)
        .args([
            "--secret", SECRET, "--quiet", "--ramp", "0.2", "--drain", "5",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .spawn()
        .expect("run the loadgen")
}

fn finish(mut child: Child, out: &Path) -> Value {
    assert!(child.wait().unwrap().success(), "the loadgen failed");
    let report = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    let _ = std::fs::remove_file(out);
    report
}

fn run(args: &[String]) -> Value {
    let out = std::env::temp_dir().join(format!("lg-cluster-{}.json", unique()));
    finish(spawn_loadgen(args, &out), &out)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A first uid such that every pair of the run is on one node (`same`) or
/// split over two (`!same`), with both nodes owning users.
fn base_where_pairs(ring: &Ring, same: bool) -> u64 {
    (1_000..2_000_000u64)
        .find(|&base| {
            let owner = |i: u64| ring.owner_of_uid(base + i).unwrap();
            let pairs_ok =
                (0..USERS as u64 / 2).all(|k| (owner(2 * k) == owner(2 * k + 1)) == same);
            let both = (0..USERS as u64).any(|i| owner(i) != owner(0));
            pairs_ok && both
        })
        .expect("some base fits")
}

fn assert_nothing_lost(r: &Value) {
    let m = &r["messages"];
    assert!(count(m, "delivered") > 0, "{m}");
    assert_eq!(count(m, "delivered"), count(m, "expected"), "{m}");
    for zero in ["lost", "duplicated", "unexpected", "rejected"] {
        assert_eq!(count(m, zero), 0, "{zero}: {m}");
    }
}

#[test]
fn users_connect_to_their_owner_node_and_same_node_chat_crosses_nothing() {
    let (a, b) = (Daemon::start_with(&[]), Daemon::start_with(&[]));
    let ring_spec = format!("{},{}", a.addr, b.addr);
    let ring = Ring::parse(&[a.addr.as_str(), b.addr.as_str()]).unwrap();
    let base = base_where_pairs(&ring, true);
    let owned_by_a = (0..USERS as u64)
        .filter(|i| ring.owner_of_uid(base + i) == Some(0))
        .count() as u64;

    // The URLs in the other order: users are routed by address, not position.
    let args = strings(&[
        "chat",
        "--users",
        "16",
        "--rate",
        "160",
        "--duration",
        "3",
        "--ring",
        &ring_spec,
        "--url",
        &b.url(),
        "--url",
        &a.url(),
        "--uid-base",
        &base.to_string(),
    ]);
    let out = std::env::temp_dir().join(format!("lg-cluster-{}.json", unique()));
    let child = spawn_loadgen(&args, &out);
    // While the users are held, each daemon holds exactly the users it owns.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (on_a, on_b) = loop {
        let (x, y) = (a.connections(), b.connections());
        if x + y == USERS as u64 || Instant::now() > deadline {
            break (x, y);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((on_a, on_b), (owned_by_a, USERS as u64 - owned_by_a));
    let r = finish(child, &out);

    assert_nothing_lost(&r);
    assert_eq!(count(&r, "connect.connected"), USERS as u64);
    assert_eq!(count(&r, "messages.cross_node_deliveries"), 0);
    assert_eq!(r["messages"]["cross_node_share"].as_f64(), Some(0.0));
    assert_eq!(
        r["target"]["users_per_server"],
        serde_json::json!([owned_by_a, USERS as u64 - owned_by_a])
    );
    assert_eq!(r["target"]["ring"], serde_json::json!([a.addr, b.addr]));
}

#[test]
fn crossings_are_counted_per_delivery_and_merged_across_workers() {
    // One daemon stands in for nginx; the ring names two (absent) nodes.
    let d = Daemon::start_with(&[]);
    let servers = ["127.0.0.1:9001", "127.0.0.1:9002 weight=2"];
    let ring = Ring::parse(&servers).unwrap();
    let spec = servers.join(",");
    let nginx = d.url();

    let split = base_where_pairs(&ring, false).to_string();
    let chat = run(&strings(&[
        "chat",
        "--users",
        "16",
        "--rate",
        "160",
        "--duration",
        "1",
        "--nginx",
        &nginx,
        "--ring",
        &spec,
        "--uid-base",
        &split,
        "--workers",
        "2",
        "--cores",
        "1",
    ]));
    assert_nothing_lost(&chat);
    assert_eq!(chat["config"]["workers"], 2);
    let delivered = count(&chat, "messages.delivered");
    assert_eq!(count(&chat, "messages.cross_node_deliveries"), delivered);
    assert_eq!(chat["messages"]["cross_node_share"].as_f64(), Some(1.0));

    // Rooms of two split members: every delivery crosses.
    let room = run(&strings(&[
        "room",
        "--users",
        "16",
        "--groups",
        "8",
        "--group-size",
        "2",
        "--rate",
        "160",
        "--duration",
        "1",
        "--nginx",
        &nginx,
        "--ring",
        &spec,
        "--uid-base",
        &split,
    ]));
    assert_nothing_lost(&room);
    assert_eq!(
        count(&room, "messages.cross_node_deliveries"),
        count(&room, "messages.delivered")
    );

    let same = base_where_pairs(&ring, true).to_string();
    let chat = run(&strings(&[
        "chat",
        "--users",
        "16",
        "--rate",
        "160",
        "--duration",
        "1",
        "--nginx",
        &nginx,
        "--ring",
        &spec,
        "--uid-base",
        &same,
    ]));
    assert_nothing_lost(&chat);
    assert_eq!(count(&chat, "messages.cross_node_deliveries"), 0);

    // Without a ring there is no cross-node figure at all.
    let plain = run(&strings(&[
        "chat",
        "--users",
        "4",
        "--rate",
        "40",
        "--duration",
        "0.5",
        "--url",
        &nginx,
    ]));
    assert!(plain["messages"]["cross_node_share"].is_null());
}

/// `--pairs same-node` against two standalone daemons: they cannot forward
/// to each other, so a pair split over them would lose every message.
#[test]
fn same_node_pairs_never_leave_their_node() {
    let (a, b) = (Daemon::start_with(&[]), Daemon::start_with(&[]));
    let ring = format!("{},{}", a.addr, b.addr);
    let r = run(&strings(&[
        "chat",
        "--users",
        "40",
        "--rate",
        "400",
        "--duration",
        "1",
        "--pairs",
        "same-node",
        "--ring",
        &ring,
        "--url",
        &a.url(),
        "--url",
        &b.url(),
        // Each worker computes the pairs itself: they must agree.
        "--workers",
        "2",
        "--cores",
        "1",
    ]));
    assert_nothing_lost(&r);
    assert_eq!(r["config"]["pairs"], "same-node");
    assert_eq!(count(&r, "messages.cross_node_deliveries"), 0);
    assert_eq!(r["messages"]["cross_node_share"].as_f64(), Some(0.0));
    // Every user has a partner unless its node owns it alone.
    let per_server = &r["target"]["users_per_server"];
    let lonely = (0..2).filter(|&s| per_server[s] == 1).count() as u64;
    assert_eq!(count(&r, "messages.pairs"), 40 - lonely);
}

/// `--pairs cross-node` through one daemon standing in for nginx, the ring
/// naming three absent nodes: every delivery crosses, whatever the uids.
#[test]
fn cross_node_pairs_always_cross() {
    let d = Daemon::start_with(&[]);
    let r = run(&strings(&[
        "chat",
        "--users",
        "41",
        "--rate",
        "410",
        "--duration",
        "1",
        "--pairs",
        "cross-node",
        "--nginx",
        &d.url(),
        "--ring",
        "127.0.0.1:9001,127.0.0.1:9002 weight=3,127.0.0.1:9003",
        "--workers",
        "2",
        "--cores",
        "1",
    ]));
    assert_nothing_lost(&r);
    let delivered = count(&r, "messages.delivered");
    assert_eq!(count(&r, "messages.cross_node_deliveries"), delivered);
    assert_eq!(r["messages"]["cross_node_share"].as_f64(), Some(1.0));
    // Everybody sends, the odd one out included.
    assert_eq!(count(&r, "messages.pairs"), 41);
}

#[test]
fn pairs_by_node_need_a_ring_and_refuse_the_peers() {
    for (extra, wanted) in [
        (
            &[][..],
            "--pairs cross-node picks partners by owner node: give --ring",
        ),
        (&["--peer"][..], "--pairs cross-node needs imedge's ring"),
        (
            &["--ring", "127.0.0.1:9001,127.0.0.1:9002 down"][..],
            "no user has a partner",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_imedge-loadgen"))
            .args(["chat", "--users", "4", "--rate", "10", "--secret", SECRET])
            .args(["--pairs", "cross-node", "--nginx", "ws://127.0.0.1:9/chat"])
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(wanted), "{extra:?}: {err}");
    }
}

#[test]
fn a_ring_server_without_a_url_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_imedge-loadgen"))
        .args(["chat", "--users", "4", "--rate", "10", "--secret", SECRET])
        .args(["--url", "ws://127.0.0.1:9001/chat"])
        .args(["--ring", "127.0.0.1:9001,127.0.0.1:9002"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ring server `127.0.0.1:9002` has no --url"),
        "{err}"
    );
}
