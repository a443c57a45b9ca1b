//! The SQLite store's write path alone: a steady stream of 100-byte
//! appends to 2,000 inboxes with 16,384 unconfirmed at most (what
//! `imedge-loadgen chat --users 2000 --max` keeps queued), timed from the
//! first append to the last durable report. The store thread then commits
//! batches as large as under full load, without the cores or a loadgen
//! competing for the CPU, so its cost per message shows with little noise.
//! Retention keeps 1,000 messages per inbox, as in `benches/store/run.sh`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imedge::store::sqlite::{SqliteOptions, SqliteStore};
use imedge::store::{Appended, LogKey, Store, Ticket};

const LOGS: i64 = 2_000;
const WINDOW: u64 = 16_384;
/// Messages per timed run: many windows, so filling and draining the
/// window at its ends weighs little.
const RUN: u64 = 131_072;

/// A store in a fresh directory, and the channel its reports arrive on.
struct Bench {
    store: SqliteStore,
    done: flume::Receiver<usize>,
    seqs: Vec<u64>,
    next: i64,
    _dir: Tempdir,
}

/// A directory removed on drop.
struct Tempdir(std::path::PathBuf);

impl Drop for Tempdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Bench {
    fn new() -> Bench {
        let dir = std::env::temp_dir().join(format!("imedge-store-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("imedge.db"), SqliteOptions::default()).unwrap();
        let (tx, done) = flume::unbounded();
        store.set_notify(std::sync::Arc::new(move |_core, reports| {
            assert!(reports.iter().all(|(_, r)| r.is_ok()), "append failed");
            let _ = tx.send(reports.len());
        }));
        Bench {
            store,
            done,
            seqs: vec![0; LOGS as usize],
            next: 0,
            _dir: Tempdir(dir),
        }
    }

    /// Appends `n` messages keeping at most [`WINDOW`] unreported; the
    /// time until every one is durable.
    fn stream(&mut self, n: u64) -> Duration {
        let frame = Bytes::from(vec![b'x'; 100]);
        let start = Instant::now();
        let (mut sent, mut reported) = (0u64, 0u64);
        while reported < n {
            while sent < n && sent - reported < WINDOW {
                let log = self.next % LOGS;
                self.next += 1;
                let seq = &mut self.seqs[log as usize];
                *seq += 1;
                let ticket = Ticket { core: 0, id: sent };
                match self
                    .store
                    .append(LogKey::Inbox(log + 1), *seq, frame.clone(), ticket)
                {
                    Ok(Appended::Pending) => {}
                    other => panic!("append: {other:?}"),
                }
                sent += 1;
            }
            reported += self.done.recv().unwrap() as u64;
        }
        start.elapsed()
    }
}

fn appends(c: &mut Criterion) {
    let mut bench = Bench::new();
    // Past the first 1,000 messages per inbox, so retention trims as in a
    // long run and the tree has its steady size.
    bench.stream(LOGS as u64 * 1_200);
    let mut g = c.benchmark_group("sqlite_append");
    g.throughput(Throughput::Elements(RUN));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("2000_inboxes_window_16384", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.stream(RUN)).sum())
    });
    g.finish();
}

criterion_group!(benches, appends);
criterion_main!(benches);
