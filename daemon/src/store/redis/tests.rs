//! The Redis backend against the conformance suite on a real redis-server,
//! plus what only Redis shows: a second node continuing a sequence, a
//! restart of Redis, age retention.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;

use super::test_server::RedisServer;
use super::*;
use crate::store::conformance;

fn options(retain: usize) -> RedisOptions {
    RedisOptions {
        retain,
        ..RedisOptions::default()
    }
}

fn open(url: &str, options: RedisOptions) -> RedisStore {
    RedisStore::open(&RedisTarget::Server(url.to_owned()), options).unwrap()
}

/// Collects every reported outcome as (ticket id, ok).
fn collector(s: &RedisStore) -> mpsc::Receiver<(u64, bool)> {
    let (tx, rx) = mpsc::channel();
    s.set_notify(Arc::new(move |_core, done| {
        for (id, r) in done {
            let _ = tx.send((id, r.is_ok()));
        }
    }));
    rx
}

fn t(id: u64) -> Ticket {
    Ticket { core: 0, id }
}

#[test]
fn conforms() {
    let server = RedisServer::start("conform");
    // A fresh, empty store per check: one logical database each.
    let db = AtomicU32::new(0);
    conformance::run_all(&|| {
        let url = server.url(db.fetch_add(1, Ordering::Relaxed));
        Box::new(open(&url, options(conformance::RETAIN)))
    });
}

#[test]
fn conforms_on_a_redis_cluster() {
    let cluster = super::test_server::RedisCluster::start("cluster");
    conformance::run_all(&|| {
        cluster.flush();
        Box::new(
            RedisStore::open(
                &RedisTarget::Cluster(cluster.urls()),
                options(conformance::RETAIN),
            )
            .unwrap(),
        )
    });
}

#[test]
fn a_second_node_continues_the_sequence() {
    let server = RedisServer::start("failover");
    let log = LogKey::Group(3);
    let a = open(&server.url(0), options(100));
    let rx = collector(&a);
    for seq in 1..=5 {
        a.append(log, seq, Bytes::from(format!("a{seq}")), t(seq))
            .unwrap();
    }
    assert!((0..5).all(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap().1));
    // Node b takes the group over while a still believes it owns it.
    let b = open(&server.url(0), options(100));
    let rx_b = collector(&b);
    assert_eq!(b.last_seq(log).unwrap(), 5, "the counter lives in redis");
    b.append(log, 6, Bytes::from_static(b"b6"), t(6)).unwrap();
    assert!(rx_b.recv_timeout(Duration::from_secs(10)).unwrap().1);
    // a's stale seq 6 is refused by redis itself, and a recovers its view.
    a.append(log, 6, Bytes::from_static(b"a6"), t(60)).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        (60, false)
    );
    assert_eq!(a.last_seq(log).unwrap(), 6);
    let frames: Vec<Bytes> = b
        .read(log, 0, 100)
        .unwrap()
        .into_iter()
        .map(|m| m.frame)
        .collect();
    assert_eq!(frames.last().unwrap(), &Bytes::from_static(b"b6"));
    assert_eq!(frames.len(), 6);
}

#[test]
fn numbering_resumes_above_a_reservation_an_earlier_version_left() {
    let server = RedisServer::start("old-reservation");
    let log = LogKey::Inbox(4);
    let mut raw = redis::Client::open(server.url(0))
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SET")
        .arg(keys::last(log))
        .arg(3)
        .query::<()>(&mut raw)
        .unwrap();
    redis::cmd("SET")
        .arg(keys::reserved(log))
        .arg(40)
        .query::<()>(&mut raw)
        .unwrap();
    let s = open(&server.url(0), options(100));
    let rx = collector(&s);
    assert_eq!(
        s.last_seq(log).unwrap(),
        40,
        "seqs up to 40 may have been shown"
    );
    s.append(log, 41, Bytes::from_static(b"41"), t(1)).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), (1, true));
    assert_eq!(s.read(log, 0, 10).unwrap()[0].seq, 41);
}

#[test]
fn redis_restart_fails_pending_appends_then_recovers() {
    let mut server = RedisServer::start("restart");
    let log = LogKey::Inbox(9);
    let s = open(&server.url(0), options(1000));
    let rx = collector(&s);
    s.append(log, 1, Bytes::from_static(b"one"), t(1)).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), (1, true));
    server.kill();
    // While redis is down every append is refused or reported failed.
    let mut answered = 0;
    let mut refused_at_once = 0;
    for id in 2..=20 {
        let seq = s.last_seq(log).map(|l| l + 1).unwrap_or(2);
        match s.append(log, seq, Bytes::from_static(b"lost"), t(id)) {
            Ok(_) => {
                let (got, ok) = rx.recv_timeout(Duration::from_secs(10)).expect("answered");
                assert_eq!((got, ok), (id, false));
                answered += 1;
            }
            Err(StoreError::Unavailable(_)) => refused_at_once += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(answered + refused_at_once == 19);
    assert!(matches!(
        s.read(log, 0, 10),
        Err(StoreError::Unavailable(_))
    ));
    server.restart();
    // Service resumes once the store thread has reconnected.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let last = loop {
        match s.last_seq(log) {
            Ok(l) => break l,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("redis never came back: {e}"),
        }
    };
    assert_eq!(last, 1, "nothing was stored during the outage");
    s.append(log, 2, Bytes::from_static(b"two"), t(100))
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        (100, true)
    );
    let got: Vec<(u64, Bytes)> = s
        .read(log, 0, 10)
        .unwrap()
        .into_iter()
        .map(|m| (m.seq, m.frame))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Bytes::from_static(b"one")),
            (2, Bytes::from_static(b"two"))
        ],
        "the acked message survived the redis restart (appendonly)"
    );
}

#[test]
fn age_retention_drops_old_messages_and_keeps_numbering() {
    let server = RedisServer::start("age");
    let now = Arc::new(AtomicI64::new(1_700_000_000_000));
    let clock = now.clone();
    let s = open(
        &server.url(0),
        RedisOptions {
            retain: 1000,
            retain_days: 1,
            clock: Arc::new(move || clock.load(Ordering::Relaxed)),
            ..RedisOptions::default()
        },
    );
    let rx = collector(&s);
    let log = LogKey::Inbox(4);
    for seq in 1..=3 {
        s.append(log, seq, Bytes::from_static(b"old"), t(seq))
            .unwrap();
    }
    now.fetch_add(86_400_000 + 1, Ordering::Relaxed);
    assert!(
        s.read(log, 0, 10).unwrap().is_empty(),
        "expired messages are not read"
    );
    s.append(log, 4, Bytes::from_static(b"new"), t(4)).unwrap();
    assert!((0..4).all(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap().1));
    let got = s.read(log, 0, 10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].seq, &got[0].frame[..]), (4, &b"new"[..]));
    assert_eq!(s.last_seq(log).unwrap(), 4);
}

#[test]
fn start_refuses_an_unreachable_redis() {
    let url = format!("redis://127.0.0.1:{}", super::test_server::free_port());
    let e = RedisStore::open(&RedisTarget::Server(url), options(10))
        .err()
        .expect("refused");
    assert!(
        e.to_string().contains("cannot reach redis at 127.0.0.1:"),
        "{e}"
    );
}
