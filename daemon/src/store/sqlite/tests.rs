//! The SQLite backend against the conformance suite, plus what only a file
//! can show: reopening, start-up refusals, group commit and retention.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::store::conformance;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "imedge-sqlite-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("imedge.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(retain: usize) -> SqliteOptions {
    SqliteOptions {
        retain,
        ..SqliteOptions::default()
    }
}

/// Collects every reported outcome as (core, ticket id, ok).
fn collector(s: &SqliteStore) -> mpsc::Receiver<(usize, u64, bool)> {
    let (tx, rx) = mpsc::channel();
    s.set_notify(Arc::new(move |core, done| {
        for (id, r) in done {
            let _ = tx.send((core, id, r.is_ok()));
        }
    }));
    rx
}

fn wait(rx: &mpsc::Receiver<(usize, u64, bool)>, n: usize) -> Vec<(usize, u64, bool)> {
    (0..n)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).expect("reported"))
        .collect()
}

fn t(id: u64) -> Ticket {
    Ticket { core: 0, id }
}

#[test]
fn conforms() {
    let dir = TempDir::new("conform");
    let n = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let path = dir
            .0
            .join(format!("c{}.db", n.fetch_add(1, Ordering::Relaxed)));
        Box::new(SqliteStore::open(&path, options(conformance::RETAIN)).unwrap())
    });
}

#[test]
fn sequences_continue_after_reopen() {
    let dir = TempDir::new("reopen");
    let frame = |log: &str, i: u64| Bytes::from(format!("{log}-{i}-\u{0}\u{ff}").into_bytes());
    {
        let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
        let rx = collector(&s);
        for i in 1..=100 {
            s.append(LogKey::Inbox(5), i, frame("u", i), t(i)).unwrap();
            s.append(LogKey::Group(5), i, frame("g", i), t(1000 + i))
                .unwrap();
        }
        assert!(wait(&rx, 200).iter().all(|r| r.2));
        s.ensure_user(77).unwrap();
        s.set_cursor(
            77,
            &Cursor {
                inbox: 3,
                groups: vec![(5, 9)],
            },
        )
        .unwrap();
    }
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    for (log, name) in [(LogKey::Inbox(5), "u"), (LogKey::Group(5), "g")] {
        assert_eq!(s.last_seq(log).unwrap(), 100);
        let got = s.read(log, 0, 1000).unwrap();
        assert_eq!(got.len(), 100);
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m.seq, i as u64 + 1);
            assert_eq!(m.frame, frame(name, m.seq), "byte-identical");
        }
    }
    assert!(s.user_exists(77).unwrap());
    assert_eq!(s.cursor(77).unwrap().unwrap().groups, vec![(5, 9)]);
    let rx = collector(&s);
    assert!(
        s.append(LogKey::Inbox(5), 100, frame("u", 100), t(1))
            .is_err(),
        "reuse"
    );
    assert!(
        s.append(LogKey::Inbox(5), 102, frame("u", 102), t(1))
            .is_err(),
        "gap"
    );
    assert_eq!(
        s.append(LogKey::Inbox(5), 101, frame("u", 101), t(2))
            .unwrap(),
        Appended::Pending
    );
    assert_eq!(wait(&rx, 1), vec![(0, 2, true)]);
}

#[test]
fn a_crash_resumes_numbering_above_reservations_and_an_orderly_stop_does_not() {
    let dir = TempDir::new("reserve");
    let log = LogKey::Inbox(9);
    let append_n = |s: &SqliteStore, rx: &mpsc::Receiver<(usize, u64, bool)>, from: u64, n: u64| {
        for seq in from..from + n {
            s.append(log, seq, Bytes::from(seq.to_string()), t(seq))
                .unwrap();
        }
        assert!(wait(rx, n as usize).iter().all(|r| r.2));
    };
    {
        let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
        let rx = collector(&s);
        assert_eq!(s.reserve(log, 64, t(500)).unwrap(), Appended::Pending);
        assert_eq!(wait(&rx, 1), vec![(0, 500, true)]);
        append_n(&s, &rx, 1, 10);
        // Seqs 11..=64 may have been shown live; a crash must not reuse them.
        s.close_as_crash();
    }
    {
        let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
        assert_eq!(
            s.last_seq(log).unwrap(),
            64,
            "numbering resumes above the reservation"
        );
        assert_eq!(s.read(log, 0, 100).unwrap().len(), 10);
        let rx = collector(&s);
        assert!(
            s.append(log, 11, Bytes::from_static(b"x"), t(1)).is_err(),
            "a reserved seq is never reused"
        );
        append_n(&s, &rx, 65, 5);
        s.reserve(log, 200, t(600)).unwrap();
        assert_eq!(wait(&rx, 1), vec![(0, 600, true)]);
        // An orderly stop: everything taken is stored, the reservation is released.
    }
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    assert_eq!(s.last_seq(log).unwrap(), 69, "no gap after an orderly stop");
    let seqs: Vec<u64> = s.read(log, 0, 100).unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=10).chain(65..=69).collect::<Vec<_>>());
}

#[test]
fn uids_start_at_first_uid_and_continue_after_reopen() {
    let dir = TempDir::new("uids");
    let a = SqliteStore::open(&dir.db(), options(10))
        .unwrap()
        .register("1", "h", "a")
        .unwrap();
    assert_eq!(a.uid, FIRST_UID);
    let s = SqliteStore::open(&dir.db(), options(10)).unwrap();
    s.ensure_user(FIRST_UID + 1).unwrap();
    assert_eq!(s.register("2", "h", "b").unwrap().uid, FIRST_UID + 2);
    assert_eq!(s.account_by_mobile("1").unwrap(), Some(a));
}

#[test]
fn a_corrupt_file_is_refused() {
    let dir = TempDir::new("corrupt");
    std::fs::write(dir.db(), vec![0x5a; 8192]).unwrap();
    let e = SqliteStore::open(&dir.db(), options(10))
        .err()
        .expect("refused");
    assert!(matches!(e, OpenError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("imedge.db"), "{e}");
}

#[test]
fn a_damaged_header_is_refused() {
    let dir = TempDir::new("damaged");
    drop(SqliteStore::open(&dir.db(), options(10)).unwrap());
    let mut bytes = std::fs::read(dir.db()).unwrap();
    bytes[..16].copy_from_slice(b"not sqlite here!");
    std::fs::write(dir.db(), bytes).unwrap();
    let e = SqliteStore::open(&dir.db(), options(10))
        .err()
        .expect("refused");
    assert!(matches!(e, OpenError::Corrupt { .. }), "{e}");
}

#[test]
fn another_programs_database_is_refused() {
    let dir = TempDir::new("foreign");
    rusqlite::Connection::open(dir.db())
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let e = SqliteStore::open(&dir.db(), options(10))
        .err()
        .expect("refused");
    assert!(matches!(e, OpenError::Foreign { .. }), "{e}");
    std::fs::write(dir.db(), b"").unwrap();
    let e = SqliteStore::open(&dir.db(), options(10))
        .err()
        .expect("empty file refused");
    assert!(matches!(e, OpenError::Foreign { .. }), "{e}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = TempDir::new("newer");
    drop(SqliteStore::open(&dir.db(), options(10)).unwrap());
    rusqlite::Connection::open(dir.db())
        .unwrap()
        .pragma_update(None, "user_version", schema::VERSION + 1)
        .unwrap();
    let e = SqliteStore::open(&dir.db(), options(10))
        .err()
        .expect("refused");
    assert!(matches!(e, OpenError::TooNew { .. }), "{e}");
}

#[test]
fn a_deleted_database_is_refused_not_recreated() {
    let dir = TempDir::new("deleted");
    drop(SqliteStore::open(&dir.db(), options(10)).unwrap());
    assert!(marker_path(&dir.db()).exists());
    for suffix in ["", "-wal", "-shm"] {
        let mut p = dir.db().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let e = SqliteStore::open(&dir.db(), options(10))
        .err()
        .expect("refused");
    assert!(matches!(e, OpenError::Deleted { .. }), "{e}");
    assert!(!dir.db().exists(), "no empty database was created");
}

#[test]
fn first_start_creates_missing_directories() {
    let dir = TempDir::new("fresh");
    let path = dir.0.join("a/b/imedge.db");
    let s = SqliteStore::open(&path, options(10)).unwrap();
    assert_eq!(s.last_seq(LogKey::Inbox(1)).unwrap(), 0);
    assert!(marker_path(&path).exists());
}

#[test]
fn group_commit_batches_appends() {
    let dir = TempDir::new("batch");
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    let rx = collector(&s);
    let n: u64 = 20_000;
    let start = Instant::now();
    for i in 0..n {
        let log = LogKey::Inbox((i % 200) as i64);
        s.append(log, i / 200 + 1, Bytes::from_static(b"{\"cmd\":10}"), t(i))
            .unwrap();
    }
    let got = wait(&rx, n as usize);
    let secs = start.elapsed().as_secs_f64();
    assert!(got.iter().all(|r| r.2));
    let commits = s.commits();
    eprintln!(
        "{n} appends in {commits} commits, {:.0} appends/s through the store thread",
        n as f64 / secs
    );
    assert!(commits < n / 10, "{commits} commits for {n} appends");
}

#[test]
fn retention_by_count_survives_reopen_and_keeps_numbering() {
    let dir = TempDir::new("count");
    {
        let s = SqliteStore::open(&dir.db(), options(5)).unwrap();
        let rx = collector(&s);
        for i in 1..=12 {
            s.append(LogKey::Group(3), i, Bytes::from(vec![i as u8]), t(i))
                .unwrap();
        }
        wait(&rx, 12);
    }
    let s = SqliteStore::open(&dir.db(), options(5)).unwrap();
    let seqs: Vec<u64> = s
        .read(LogKey::Group(3), 0, 100)
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, vec![8, 9, 10, 11, 12]);
    assert_eq!(s.last_seq(LogKey::Group(3)).unwrap(), 12);
}

#[test]
fn retention_by_age_empties_a_log_but_keeps_its_last_seq() {
    let dir = TempDir::new("age");
    let now = Arc::new(AtomicI64::new(1_000_000_000_000));
    let clock_now = now.clone();
    let opts = SqliteOptions {
        retain_days: 30,
        clock: Arc::new(move || clock_now.load(Ordering::Relaxed)),
        ..options(1000)
    };
    let day = 86_400_000;
    {
        let s = SqliteStore::open(&dir.db(), opts.clone()).unwrap();
        let rx = collector(&s);
        for i in 1..=4 {
            s.append(LogKey::Inbox(9), i, Bytes::from_static(b"old"), t(i))
                .unwrap();
        }
        wait(&rx, 4);
        now.fetch_add(20 * day, Ordering::Relaxed);
        s.append(LogKey::Inbox(9), 5, Bytes::from_static(b"new"), t(5))
            .unwrap();
        wait(&rx, 1);
        now.fetch_add(11 * day, Ordering::Relaxed);
        assert_eq!(
            s.sweep_expired().unwrap(),
            4,
            "31 days old go, 11 days old stay"
        );
        assert_eq!(s.read(LogKey::Inbox(9), 0, 10).unwrap()[0].seq, 5);
        now.fetch_add(30 * day, Ordering::Relaxed);
        assert_eq!(s.sweep_expired().unwrap(), 1);
        assert!(s.read(LogKey::Inbox(9), 0, 10).unwrap().is_empty());
    }
    let s = SqliteStore::open(&dir.db(), opts).unwrap();
    assert_eq!(
        s.last_seq(LogKey::Inbox(9)).unwrap(),
        5,
        "numbering survives an empty log"
    );
}

#[test]
fn a_full_queue_refuses_appends_instead_of_blocking() {
    let dir = TempDir::new("full");
    let s = SqliteStore::open(
        &dir.db(),
        SqliteOptions {
            queue: 1,
            ..options(10)
        },
    )
    .unwrap();
    let _rx = collector(&s);
    let refused = (1..=5000u64)
        .map(|i| s.append(LogKey::Inbox(1), i, Bytes::from_static(b"x"), t(i)))
        .take_while(|r| r.is_ok())
        .count();
    assert!(refused < 5000, "a 1-slot queue fills up");
}

#[test]
fn last_seq_counts_queued_appends_and_reports_come_once_per_core_per_commit() {
    let dir = TempDir::new("queued");
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let seen = calls.clone();
    s.set_notify(Arc::new(move |core, done| {
        seen.fetch_add(1, Ordering::Relaxed);
        for (id, r) in done {
            let _ = tx.send((core, id, r.is_ok()));
        }
    }));
    for i in 1..=2000u64 {
        let ticket = Ticket {
            core: (i % 2) as usize,
            id: i,
        };
        s.append(LogKey::Group(1), i, Bytes::from_static(b"m"), ticket)
            .unwrap();
    }
    assert_eq!(
        s.last_seq(LogKey::Group(1)).unwrap(),
        2000,
        "queued appends count"
    );
    let got = wait(&rx, 2000);
    assert!(got
        .iter()
        .all(|&(core, id, ok)| ok && core == (id % 2) as usize));
    let commits = s.commits() as usize;
    assert!(
        calls.load(Ordering::Relaxed) <= 2 * commits,
        "one call per core per commit"
    );
}

#[test]
fn the_directory_survives_reopen() {
    let dir = TempDir::new("directory");
    let (a, b, g) = {
        let s = SqliteStore::open(&dir.db(), options(10)).unwrap();
        let a = s.register("100", "$argon2id$x", "ann").unwrap();
        let b = s.register("200", "$argon2id$y", "bo").unwrap();
        s.add_friend(a.uid, b.uid).unwrap();
        let g = s.create_group(a.uid, "room", "", "").unwrap();
        s.join_group(g.id, b.uid).unwrap();
        (a, b, g)
    };
    let s = SqliteStore::open(&dir.db(), options(10)).unwrap();
    assert_eq!(g.id, 1, "gids start at 1");
    assert_eq!(s.account_by_mobile("100").unwrap(), Some(a.clone()));
    assert_eq!(s.friends(a.uid).unwrap(), vec![(b.uid, "bo".to_owned())]);
    assert_eq!(s.user_groups(b.uid).unwrap(), vec![g.clone()]);
    assert!(s.is_member(g.id, a.uid).unwrap());
    assert_eq!(s.create_group(b.uid, "next", "", "").unwrap().id, 2);
}

/// Acked appends per second with a bounded number in flight (like many
/// clients each waiting for its ack), per fsync policy. A measurement, not
/// a check: `cargo test --release -p imedge sqlite::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    for fsync in [Fsync::Off, Fsync::Normal, Fsync::Full] {
        let dir = TempDir::new("throughput");
        let s = SqliteStore::open(
            &dir.db(),
            SqliteOptions {
                fsync,
                ..options(1000)
            },
        )
        .unwrap();
        let rx = collector(&s);
        let (n, window, logs) = (200_000u64, 4096u64, 2000u64);
        let frame = Bytes::from(vec![b'x'; 120]);
        let start = Instant::now();
        let mut seqs = vec![0u64; logs as usize];
        let mut in_flight = 0;
        for i in 0..n {
            if in_flight == window {
                rx.recv_timeout(Duration::from_secs(20)).expect("reported");
                in_flight -= 1;
            }
            let l = (i * 7919 % logs) as usize;
            seqs[l] += 1;
            s.append(LogKey::Inbox(l as i64), seqs[l], frame.clone(), t(i))
                .unwrap();
            in_flight += 1;
        }
        wait(&rx, in_flight as usize);
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "fsync {fsync:?}: {n} acked appends over {logs} logs in {:.2}s = {:.0}/s, {} commits",
            secs,
            n as f64 / secs,
            s.commits()
        );
    }
}

/// Directory reads on the caller's thread (a room message asks two), per
/// second. A measurement: run with `--ignored --nocapture`.
#[test]
#[ignore]
fn directory_read_speed() {
    let dir = TempDir::new("readspeed");
    let s = SqliteStore::open(&dir.db(), options(10)).unwrap();
    let g = s.create_group(1, "room", "", "").unwrap();
    for u in 2..200 {
        s.join_group(g.id, u).unwrap();
    }
    let n = 200_000;
    let start = Instant::now();
    for i in 0..n {
        assert!(s.group_exists(g.id).unwrap());
        assert!(s.is_member(g.id, 2 + i % 198).unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{:.0} group_exists + is_member pairs/s on one thread",
        n as f64 / secs
    );
}

/// Messages of `log` on disk, slack included (reads hide the slack).
fn rows_on_disk(path: &std::path::Path, log: LogKey) -> u64 {
    let (k, id) = kind_id(log);
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM segments
             WHERE kind = ?1 AND id = ?2",
            [k, id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64
}

#[test]
fn count_retention_keeps_the_slack_bound_and_reads_show_only_retain() {
    let dir = TempDir::new("slack");
    let (retain, log) = (16u64, LogKey::Inbox(4));
    let bound = retain + retention::slack(retain);
    let s = SqliteStore::open(&dir.db(), options(retain as usize)).unwrap();
    let rx = collector(&s);
    let mut most = 0;
    for seq in 1..=100u64 {
        // One at a time: every append is its own commit, the worst case.
        s.append(log, seq, Bytes::from(seq.to_string()), t(seq))
            .unwrap();
        assert!(wait(&rx, 1)[0].2);
        let held = rows_on_disk(&dir.db(), log);
        assert!(held <= bound, "{held} rows after seq {seq}, bound {bound}");
        most = most.max(held);
        let seqs: Vec<u64> = s
            .read(log, 0, 1000)
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        let first = seq.saturating_sub(retain) + 1;
        assert_eq!(seqs, (first..=seq).collect::<Vec<_>>(), "after seq {seq}");
        if first + 2 <= seq {
            assert_eq!(
                s.read(log, first + 1, 1).unwrap()[0].seq,
                first + 2,
                "a cursor inside the window reads on from it"
            );
        }
    }
    assert_eq!(most, bound, "the slack is used before trimming");
    drop(s);
    let s = SqliteStore::open(&dir.db(), options(retain as usize)).unwrap();
    assert_eq!(s.last_seq(log).unwrap(), 100);
    assert_eq!(s.read(log, 0, 1000).unwrap().len() as u64, retain);
}

#[test]
fn the_age_sweep_empties_logs_past_its_row_budget_and_numbering_goes_on() {
    let dir = TempDir::new("agebudget");
    let now = Arc::new(AtomicI64::new(1_000_000_000_000));
    let clock_now = now.clone();
    let opts = SqliteOptions {
        retain_days: 1,
        clock: Arc::new(move || clock_now.load(Ordering::Relaxed)),
        ..options(10_000)
    };
    let n = age::ROWS_PER_STEP as u64 + 500;
    let logs = [LogKey::Inbox(1), LogKey::Group(1), LogKey::Group(2)];
    {
        let s = SqliteStore::open(&dir.db(), opts.clone()).unwrap();
        let rx = collector(&s);
        for (i, log) in logs.iter().enumerate() {
            for seq in 1..=n {
                s.append(*log, seq, Bytes::from_static(b"old"), t(seq))
                    .unwrap();
            }
            wait(&rx, n as usize);
            // The last log keeps one fresh message: only its old ones go.
            if i == logs.len() - 1 {
                now.fetch_add(2 * 86_400_000, Ordering::Relaxed);
                s.append(*log, n + 1, Bytes::from_static(b"new"), t(0))
                    .unwrap();
                wait(&rx, 1);
            }
        }
        assert_eq!(s.sweep_expired().unwrap(), 3 * n as usize);
        assert!(s.read(logs[0], 0, 10).unwrap().is_empty());
        assert!(s.read(logs[1], 0, 10).unwrap().is_empty());
        let left = s.read(logs[2], 0, 10).unwrap();
        assert_eq!(left.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![n + 1]);
        assert_eq!(s.sweep_expired().unwrap(), 0, "nothing left to expire");
    }
    let s = SqliteStore::open(&dir.db(), opts).unwrap();
    for (log, last) in [(logs[0], n), (logs[1], n), (logs[2], n + 1)] {
        assert_eq!(s.last_seq(log).unwrap(), last, "{log:?} numbers on");
    }
    let rx = collector(&s);
    s.append(logs[0], n + 1, Bytes::from_static(b"next"), t(1))
        .unwrap();
    assert!(wait(&rx, 1)[0].2);
}

#[test]
fn a_schema_3_database_is_upgraded_to_arrival_ordered_segments() {
    let dir = TempDir::new("upgrade3");
    {
        let mut c = rusqlite::Connection::open(dir.db()).unwrap();
        c.pragma_update(None, "application_id", schema::APPLICATION_ID)
            .unwrap();
        c.pragma_update(None, "journal_mode", "wal").unwrap();
        schema::migrate_to(&mut c, 0, 3).unwrap();
        c.execute_batch(
            "INSERT INTO messages (kind, id, seq, ts_ms, frame) VALUES
                 (0, 8, 1, 1, x'61'), (0, 8, 2, 2, x'00ff62'), (1, 3, 7, 3, x'63');
             INSERT INTO logs (kind, id, last_seq) VALUES (1, 3, 9);",
        )
        .unwrap();
        let has_index: bool = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_by_ts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(has_index, "version 3 had the time index");
        std::fs::write(marker_path(&dir.db()), b"").unwrap();
    }
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    let c = rusqlite::Connection::open(dir.db()).unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    let indexes: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_by_ts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0, "the time index is gone");
    let by_log: String = c
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'segments_by_log'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(by_log.contains("UNIQUE"), "{by_log}");
    let rowids: Vec<i64> = c
        .prepare("SELECT rowid FROM segments ORDER BY kind, id, last_seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rowids, [1, 2, 3], "messages are kept in arrival order");
    let got = s.read(LogKey::Inbox(8), 0, 10).unwrap();
    assert_eq!(
        got.iter()
            .map(|m| (m.seq, m.frame.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, Bytes::from_static(b"a")),
            (2, Bytes::from_static(b"\x00\xffb"))
        ],
        "each message became a segment of one, its bytes whole"
    );
    assert_eq!(s.last_seq(LogKey::Group(3)).unwrap(), 9);
    let rx = collector(&s);
    s.append(LogKey::Inbox(8), 3, Bytes::from_static(b"c"), t(3))
        .unwrap();
    assert!(wait(&rx, 1)[0].2);
    // Written at 1970 + 1 ms: all expired under the 30-day default.
    assert_eq!(s.sweep_expired().unwrap(), 3);
    assert_eq!(s.read(LogKey::Inbox(8), 0, 10).unwrap().len(), 1);
}

/// A frame that differs per tag and number, with bytes that are not text.
fn frame(tag: &str, n: u64) -> Bytes {
    Bytes::from(format!("{tag}-{n}-\u{0}\u{ff}").into_bytes())
}

/// A database holding `segments` of `log` (first seq, frame count, ts_ms),
/// written as the store thread writes them.
fn with_segments(dir: &TempDir, log: LogKey, segments: &[(u64, usize, i64)]) {
    drop(SqliteStore::open(&dir.db(), options(1000)).unwrap());
    let c = rusqlite::Connection::open(dir.db()).unwrap();
    let (kind, id) = kind_id(log);
    for &(first, n, ts) in segments {
        let frames = (first..first + n as u64).map(|s| frame("s", s)).collect();
        let row = insert::Row {
            kind,
            id,
            first_seq: first as i64,
            frames,
        };
        insert::insert(&c, &[row], ts).unwrap();
    }
}

fn seqs(got: &[Stored]) -> Vec<u64> {
    got.iter().map(|m| m.seq).collect()
}

#[test]
fn reads_start_and_stop_inside_segments_with_every_frame_whole() {
    let dir = TempDir::new("segread");
    let log = LogKey::Inbox(3);
    with_segments(&dir, log, &[(1, 5, 1), (6, 1, 1), (7, 4, 1)]);
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    let all = s.read(log, 0, 100).unwrap();
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    for m in &all {
        assert_eq!(m.frame, frame("s", m.seq), "byte-identical");
    }
    assert_eq!(seqs(&s.read(log, 2, 3).unwrap()), [3, 4, 5]);
    assert_eq!(seqs(&s.read(log, 4, 4).unwrap()), [5, 6, 7, 8]);
    assert_eq!(seqs(&s.read(log, 9, 4).unwrap()), [10]);
    assert!(s.read(log, 10, 4).unwrap().is_empty());
    assert_eq!(s.last_seq(log).unwrap(), 10);
    drop(s);
    // Retention of 4 hides what lies below seq 7, inside segments or not.
    let s = SqliteStore::open(&dir.db(), options(4)).unwrap();
    assert_eq!(seqs(&s.read(log, 0, 100).unwrap()), [7, 8, 9, 10]);
    assert_eq!(seqs(&s.read(log, 8, 100).unwrap()), [9, 10]);
}

#[test]
fn a_segment_longer_than_the_sweep_budget_still_expires() {
    let dir = TempDir::new("segage");
    let log = LogKey::Group(2);
    let big = age::ROWS_PER_STEP + 500;
    // All stamped at 1970 + 1 ms; the newest segment is stamped now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut segs: Vec<(u64, usize, i64)> = (0..age::ROWS_PER_STEP as u64 + 3)
        .map(|i| (i + 1, 1, 1))
        .collect();
    let next = segs.len() as u64 + 1;
    segs.push((next, big, 1));
    segs.push((next + big as u64, 2, now));
    with_segments(&dir, log, &segs);
    let s = SqliteStore::open(&dir.db(), options(1_000_000)).unwrap();
    let expired = age::ROWS_PER_STEP + 3 + big;
    assert_eq!(s.sweep_expired().unwrap(), expired);
    let left = s.read(log, 0, 100).unwrap();
    assert_eq!(seqs(&left), [expired as u64 + 1, expired as u64 + 2]);
}

#[test]
fn appends_queued_together_become_one_segment_per_log_and_read_back_in_order() {
    let dir = TempDir::new("segwrite");
    let s = SqliteStore::open(&dir.db(), options(1000)).unwrap();
    let rx = collector(&s);
    let logs = [LogKey::Inbox(1), LogKey::Group(1), LogKey::Inbox(2)];
    let n = 300u64;
    for seq in 1..=n {
        for (i, log) in logs.iter().enumerate() {
            s.append(
                *log,
                seq,
                frame("w", seq * 10 + i as u64),
                t(seq * 10 + i as u64),
            )
            .unwrap();
        }
    }
    assert!(wait(&rx, 3 * n as usize).iter().all(|r| r.2));
    for (i, log) in logs.iter().enumerate() {
        let got = s.read(*log, 0, 1000).unwrap();
        assert_eq!(seqs(&got), (1..=n).collect::<Vec<_>>());
        for m in &got {
            assert_eq!(m.frame, frame("w", m.seq * 10 + i as u64));
        }
    }
    let (rows, messages): (i64, i64) = rusqlite::Connection::open(dir.db())
        .unwrap()
        .query_row(
            "SELECT COUNT(*), SUM(last_seq - first_seq + 1) FROM segments",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(messages, 3 * n as i64);
    assert!(
        rows < messages,
        "appends queued faster than commits share rows ({rows} rows)"
    );
}
