//! The worked values of shared/notes/nginx-consistent-hash.md, each of which
//! nginx 1.22.1 itself produced or confirmed.

use super::*;
use crate::cluster::ServerError;

fn ring(entries: &[&str]) -> Ring {
    Ring::parse(entries).unwrap()
}

fn three() -> Ring {
    ring(&["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"])
}

/// The port of the server that owns `key`.
fn port(r: &Ring, key: &str) -> String {
    let s = r.owner(key.as_bytes()).expect("an owner");
    r.servers()[s]
        .address
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

fn contains(r: &Ring, point: u32) -> bool {
    (0..r.point_count()).any(|i| r.point(i).0 == point)
}

#[test]
fn a_point_is_the_crc_of_host_nul_port_and_the_previous_point() {
    // The note's 18-byte input of point 0, hashed without the ring's code.
    assert_eq!(crc32fast::hash(b"127.0.0.1\x009001\0\0\0\0"), 0x7053_3e04);
    let cases = [
        ("127.0.0.1:9001", [0x7053_3e04, 0x1057_1e62, 0x1f89_5401]),
        ("127.0.0.1:9002", [0x37f3_44d4, 0x6e7a_5877, 0xdc6e_7eda]),
        ("127.0.0.1:9003", [0x0a93_6d64, 0x4461_6584, 0x2be3_9aac]),
    ];
    for (address, firsts) in cases {
        let r = ring(&[address]);
        assert_eq!(r.point_count(), 160, "{address}");
        for p in firsts {
            assert!(contains(&r, p), "{address} lacks {p:#010x}");
        }
    }
}

#[test]
fn three_servers_give_480_sorted_points() {
    let r = three();
    assert_eq!(r.point_count(), 480);
    assert_eq!(r.point(0), (0x006f_ff97, 2));
    assert_eq!(r.point(479), (0xffee_a1b4, 2));
    assert!((1..480).all(|i| r.point(i - 1).0 < r.point(i).0));
    // Index 480 wraps to the first point.
    assert_eq!(r.point(480), r.point(0));
}

#[test]
fn key_123_lands_on_point_264() {
    let r = three();
    assert_eq!(crc32fast::hash(b"123"), 0x8848_63d2);
    assert_eq!(r.start(b"123"), 264);
    assert_eq!(r.point(264), (0x8877_a6db, 2));
    assert_eq!(r.point(265), (0x8953_cdeb, 2));
    assert_eq!(r.point(266), (0x897b_fcf0, 1));
    assert_eq!(r.point(267), (0x8994_f796, 0));
    assert_eq!(r.owner(b"123"), Some(2));
    assert_eq!(r.owner_of_uid(123), Some(2));
}

#[test]
fn primary_and_failover_orders_match_nginx() {
    let r = three();
    let nginx = [
        (1, [1, 2, 3]),
        (2, [3, 1, 2]),
        (3, [1, 3, 2]),
        (4, [2, 1, 3]),
        (5, [1, 2, 3]),
        (6, [1, 3, 2]),
        (7, [3, 2, 1]),
        (8, [3, 1, 2]),
        (9, [1, 3, 2]),
        (10, [1, 2, 3]),
        (13, [2, 1, 3]),
        (17, [2, 3, 1]),
        (42, [3, 1, 2]),
        (100, [3, 2, 1]),
        (123, [3, 2, 1]),
        (1000, [1, 2, 3]),
    ];
    for (id, order) in nginx {
        let key = id.to_string();
        let got: Vec<usize> = r.failover(key.as_bytes()).map(|s| s + 1).collect();
        assert_eq!(got, order, "id {id}");
        assert_eq!(r.owner_of_uid(id), Some(order[0] - 1), "id {id}");
    }
}

#[test]
fn shares_of_the_first_100000_ids() {
    let r = three();
    let mut count = [0u32; 3];
    for id in 1..=100_000 {
        count[r.owner_of_uid(id).unwrap()] += 1;
    }
    // The note rounds to 0.1 %: 35.5 %, 28.5 %, 36.0 %.
    for (n, want) in count.iter().zip([35_500, 28_500, 36_000]) {
        assert!(n.abs_diff(want) <= 50, "{count:?}");
    }
}

#[test]
fn weights_and_an_ipv6_literal_match_nginx() {
    let r = ring(&["127.0.0.1:9001", "127.0.0.1:9002 weight=2", "[::1]:9003"]);
    assert_eq!(r.point_count(), 640);
    for (id, want) in [
        (1, "9001"),
        (2, "9003"),
        (4, "9002"),
        (7, "9002"),
        (9, "9002"),
    ] {
        assert_eq!(port(&r, &id.to_string()), want, "id {id}");
    }
    assert_eq!(r.owner(b"2"), Some(2), "2 goes to [::1]:9003");
}

#[test]
fn down_is_the_same_as_removed() {
    let with_down = ring(&["127.0.0.1:9001", "127.0.0.1:9002 down", "127.0.0.1:9003"]);
    let removed = ring(&["127.0.0.1:9001", "127.0.0.1:9003"]);
    let full = three();
    let mut moved = 0;
    for id in 1..=20_000u64 {
        let a = &with_down.servers()[with_down.owner_of_uid(id).unwrap()].address;
        let b = &removed.servers()[removed.owner_of_uid(id).unwrap()].address;
        assert_eq!(a, b, "id {id}");
        let c = &full.servers()[full.owner_of_uid(id).unwrap()].address;
        if a != c {
            // Only the down server's users move.
            assert_eq!(c, "127.0.0.1:9002", "id {id}");
            moved += 1;
        }
    }
    assert!(moved > 0);
    // The live view walks past a server that is not down but unreachable.
    let key = b"4"; // 9002, then 9001
    assert_eq!(full.owner(key), Some(1));
    assert_eq!(full.owner_with(key, |s| s != 1), Some(0));
}

#[test]
fn equal_points_go_to_the_server_listed_first() {
    // A collision nginx 1.22.1 was shown: both servers have point 0xd2d17c22.
    let a = "127.0.0.1:9001";
    let b = "127.0.0.8:18119";
    let ab = ring(&[a, b]);
    let ba = ring(&[b, a]);
    assert_eq!(ab.point_count(), 319, "one of the 320 points is shared");
    let at = |r: &Ring| {
        let i = (0..r.point_count())
            .find(|&i| r.point(i).0 == 0xd2d1_7c22)
            .unwrap();
        r.servers()[r.point(i).1].address.clone()
    };
    assert_eq!(at(&ab), a);
    assert_eq!(at(&ba), b);
}

#[test]
fn keys_past_the_last_point_wrap_to_the_first() {
    let r = three();
    let id = (1..u64::MAX)
        .find(|id| crc32fast::hash(id.to_string().as_bytes()) > 0xffee_a1b4)
        .unwrap();
    assert_eq!(r.start(id.to_string().as_bytes()), 480);
    assert_eq!(r.owner_of_uid(id), Some(r.point(0).1));
}

#[test]
fn the_walk_gives_up_after_21_points_as_nginx_does() {
    // A heavy down server leaves long runs of its points between the few of
    // the live one: some keys find the live server within 21 points, the
    // rest would go to nginx's round robin.
    let r = ring(&["10.0.0.1:1 weight=1000 down", "10.0.0.2:1"]);
    let (mut found, mut gave_up) = (0, 0);
    for id in 1..=3000u64 {
        let key = id.to_string();
        let start = r.start(key.as_bytes());
        let live_within = (start..start + MAX_TRIES).any(|i| r.point(i).1 == 1);
        match r.owner(key.as_bytes()) {
            Some(1) => {
                assert!(live_within, "id {id}");
                found += 1;
            }
            None => {
                assert!(!live_within, "id {id}");
                assert_eq!(r.failover(key.as_bytes()).next(), None);
                gave_up += 1;
            }
            other => panic!("id {id}: {other:?}"),
        }
    }
    assert!(found > 0 && gave_up > 0, "{found} {gave_up}");
}

#[test]
fn a_retry_walk_that_spends_the_budget_says_so() {
    // With a heavy live server, a retry after it often meets only its points
    // for the rest of the budget: nginx then goes on by round robin, and the
    // walk must say so rather than pretend the light server is never tried.
    let r = ring(&["10.0.0.1:1 weight=1000", "10.0.0.2:1"]);
    let (mut spent, mut whole) = (0, 0);
    for id in 1..=3000u64 {
        let key = id.to_string();
        let mut walk = r.failover(key.as_bytes());
        let got: Vec<usize> = walk.by_ref().collect();
        let start = r.start(key.as_bytes());
        let light_within = (start..start + MAX_TRIES).any(|i| r.point(i).1 == 1);
        if light_within {
            assert_eq!(got.len(), 2, "id {id}");
            assert!(!walk.spent(), "id {id}");
            whole += 1;
        } else {
            assert_eq!(got, [0], "id {id}");
            assert!(walk.spent(), "id {id}");
            spent += 1;
        }
    }
    assert!(spent > 0 && whole > 0, "{spent} {whole}");
}

#[test]
fn no_owner_for_an_empty_key_or_when_all_are_down() {
    assert_eq!(three().owner(b""), None);
    assert_eq!(three().failover(b"").next(), None);
    let r = ring(&["127.0.0.1:9001 down", "127.0.0.1:9002 down"]);
    assert_eq!(r.owner(b"1"), None);
    assert_eq!(ring(&["127.0.0.1:9001"]).owner(b"77"), Some(0));
}

#[test]
fn bad_rings_are_refused() {
    assert_eq!(Ring::new(Vec::new()).unwrap_err(), RingError::Empty);
    let e = Ring::parse(&["a:1", "b:1", "a:1 weight=2"]).unwrap_err();
    assert!(e.to_string().contains("`a:1` is listed twice"), "{e}");
    let e = Ring::parse(&["a:1 weight=-1"]).unwrap_err();
    assert!(
        matches!(e, RingError::Server(ServerError::Weight { .. })),
        "{e}"
    );
    let hand_built = Server {
        address: "a:1".into(),
        weight: 0,
        down: false,
    };
    assert_eq!(
        Ring::new(vec![hand_built]).unwrap_err(),
        RingError::Weight("a:1".into())
    );
}
