//! The behaviour every [`Store`] backend must have, as test functions over
//! `&dyn Store`. Each backend's tests call [`run_all`] with a factory that
//! makes a fresh, empty store keeping at most [`RETAIN`] messages per log.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{Appended, Cursor, LogKey, Store, StoreError, Ticket};

/// Messages per log the factory's stores must keep (retention is tested against it).
pub const RETAIN: usize = 3;

/// Runs every conformance check, each on a fresh store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, check) in CHECKS {
        let store = make();
        check(&*store);
        eprintln!("store conformance: {name} ok");
    }
}

type Check = fn(&dyn Store);

const CHECKS: &[(&str, Check)] = &[
    (
        "sequences start at one and read back in order",
        sequences_in_order,
    ),
    ("a gap or a reused seq is refused", gaps_refused),
    ("retention drops the oldest and keeps numbering", retention),
    ("pending appends are all reported", pending_reported),
    ("users are known once ensured", users),
    ("groups track members both ways", groups),
    ("accounts register once per mobile", accounts),
    ("friendship is mutual", friends),
    ("cursors are kept per user", cursors),
];

fn frame(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Appends and, for a backend that commits later, waits for its report.
fn append(s: &dyn Store, log: LogKey, seq: u64, f: &str) -> Result<(), StoreError> {
    let (tx, rx) = mpsc::channel();
    s.set_notify(Arc::new(move |_core, done| {
        for (_, outcome) in done {
            let _ = tx.send(outcome);
        }
    }));
    match s.append(log, seq, frame(f), Ticket { core: 0, id: seq })? {
        Appended::Durable => Ok(()),
        Appended::Pending => rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the append was reported"),
    }
}

fn sequences_in_order(s: &dyn Store) {
    let log = LogKey::Inbox(7);
    assert_eq!(s.last_seq(log).unwrap(), 0);
    append(s, log, 1, "a").unwrap();
    append(s, log, 2, "b").unwrap();
    assert_eq!(s.last_seq(log).unwrap(), 2);
    let r = s.read(log, 0, 10).unwrap();
    assert_eq!(
        r.iter()
            .map(|m| (m.seq, m.frame.clone()))
            .collect::<Vec<_>>(),
        vec![(1, frame("a")), (2, frame("b"))]
    );
    assert_eq!(s.read(log, 1, 10).unwrap()[0].seq, 2);
    assert_eq!(s.read(log, 0, 1).unwrap().len(), 1, "limit is respected");
    assert!(
        s.read(LogKey::Group(7), 0, 10).unwrap().is_empty(),
        "inbox 7 and group 7 are apart"
    );
}

fn gaps_refused(s: &dyn Store) {
    let log = LogKey::Group(1);
    append(s, log, 1, "a").unwrap();
    assert!(append(s, log, 3, "c").is_err());
    assert!(append(s, log, 1, "a").is_err());
    assert_eq!(s.last_seq(log).unwrap(), 1);
}

fn retention(s: &dyn Store) {
    let log = LogKey::Inbox(1);
    for i in 1..=RETAIN as u64 + 2 {
        append(s, log, i, &format!("m{i}")).unwrap();
    }
    assert_eq!(s.last_seq(log).unwrap(), RETAIN as u64 + 2);
    let seqs: Vec<u64> = s.read(log, 0, 100).unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (3..=RETAIN as u64 + 2).collect::<Vec<_>>());
}

fn pending_reported(s: &dyn Store) {
    let (tx, rx) = mpsc::channel();
    s.set_notify(Arc::new(move |core, done| {
        for (id, outcome) in done {
            let _ = tx.send((core, id, outcome.is_ok()));
        }
    }));
    let log = LogKey::Inbox(99);
    let mut pending = Vec::new();
    for seq in 1..=50 {
        if s.append(log, seq, frame("x"), Ticket { core: 1, id: seq })
            .unwrap()
            == Appended::Pending
        {
            pending.push(seq);
        }
    }
    let mut got: Vec<u64> = pending
        .iter()
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("reported"))
        .map(|(core, id, ok)| {
            assert_eq!(core, 1);
            assert!(ok);
            id
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, pending);
    assert_eq!(s.last_seq(log).unwrap(), 50);
}

fn users(s: &dyn Store) {
    assert!(!s.user_exists(5).unwrap());
    s.ensure_user(5).unwrap();
    s.ensure_user(5).unwrap();
    assert!(s.user_exists(5).unwrap());
}

fn groups(s: &dyn Store) {
    let g = s
        .create_group(5, "room", "https://example.org/r.png", "our room")
        .unwrap();
    assert!(g.id > 0);
    assert_eq!((g.name.as_str(), g.owner), ("room", 5));
    assert_eq!(
        (g.icon.as_str(), g.memo.as_str()),
        ("https://example.org/r.png", "our room")
    );
    assert!(s.group_exists(g.id).unwrap());
    assert!(s.is_member(g.id, 5).unwrap());
    s.join_group(g.id, 6).unwrap();
    s.join_group(g.id, 6).unwrap();
    assert_eq!(s.user_groups(6).unwrap(), vec![g.clone()]);
    assert_eq!(s.member_count(g.id).unwrap(), Some(2));
    s.leave_group(g.id, 6).unwrap();
    assert_eq!(s.member_count(g.id).unwrap(), Some(1));
    assert_eq!(s.member_count(9999).unwrap(), None);
    assert!(!s.is_member(g.id, 6).unwrap());
    assert!(s.user_groups(6).unwrap().is_empty());
    assert!(matches!(
        s.join_group(9999, 1),
        Err(StoreError::NoSuchGroup(9999))
    ));
    let h = s.create_group(6, "other", "", "").unwrap();
    assert_ne!(g.id, h.id);
}

fn accounts(s: &dyn Store) {
    let a = s
        .register("13800000001", "$argon2id$fake", "alice")
        .unwrap();
    assert!(a.uid > 0);
    assert!(s.user_exists(a.uid).unwrap());
    assert!(matches!(
        s.register("13800000001", "x", "again"),
        Err(StoreError::MobileTaken)
    ));
    let b = s.register("13800000002", "$argon2id$fake2", "bob").unwrap();
    assert_ne!(a.uid, b.uid);
    assert_eq!(s.account_by_mobile("13800000001").unwrap(), Some(a.clone()));
    assert_eq!(s.account_by_mobile("nobody").unwrap(), None);
    assert_eq!(s.nickname(a.uid).unwrap().as_deref(), Some("alice"));
    s.ensure_user(42).unwrap();
    assert_eq!(
        s.nickname(42).unwrap().as_deref(),
        Some(""),
        "a token-only user has no name"
    );
    assert_eq!(s.nickname(43).unwrap(), None);
}

fn friends(s: &dyn Store) {
    let a = s.register("1", "h", "a").unwrap().uid;
    let b = s.register("2", "h", "b").unwrap().uid;
    s.add_friend(a, b).unwrap();
    s.add_friend(b, a).unwrap();
    assert_eq!(s.friends(a).unwrap(), vec![(b, "b".to_owned())]);
    assert_eq!(s.friends(b).unwrap(), vec![(a, "a".to_owned())]);
    assert!(matches!(
        s.add_friend(a, 777_777),
        Err(StoreError::NoSuchUser(777_777))
    ));
}

fn cursors(s: &dyn Store) {
    assert_eq!(s.cursor(5).unwrap(), None);
    let c = Cursor {
        inbox: 9,
        groups: vec![(3, 4), (8, 1)],
    };
    s.set_cursor(5, &c).unwrap();
    assert_eq!(s.cursor(5).unwrap(), Some(c));
    let d = Cursor {
        inbox: 10,
        groups: vec![],
    };
    s.set_cursor(5, &d).unwrap();
    assert_eq!(s.cursor(5).unwrap(), Some(d));
}
