//! Room fanout on one core: one 128-byte room message to 10, 100 and 1,000
//! local members of a group, through the daemon's own `Shard` index and
//! per-connection `OutQueue`s. `encode_once` stamps one frame and queues it
//! to every member (what the daemon does: a frame this short is copied into
//! each queue's chunk, a long one shared); `encode_per_recipient` stamps a
//! fresh frame for each member. Each iteration also empties the queues,
//! the same work for both.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imedge::msg;
use imedge::shard::{Shard, TokenBucket};
use imedge_benches::sample;

const GID: i64 = 7;
const SENDER: i64 = 1;
const QUEUE_BOUND: usize = 1 << 20;

/// A shard holding `members` connections of users 2.. in group `GID`.
fn room(members: usize) -> Shard<()> {
    let mut shard = Shard::new(0);
    for uid in 2..2 + members as i64 {
        shard.insert(uid, (), vec![GID], TokenBucket::new(10, 0), 0);
    }
    shard
}

/// Queues `frame` for every member, as the core's fanout does.
fn queue_all(shard: &mut Shard<()>, frame: &bytes::Bytes) {
    for i in 0..shard.group_keys(GID).len() {
        let key = shard.group_keys(GID)[i];
        let conn = shard.by_key_mut(key).expect("indexed member");
        conn.out.push(frame, QUEUE_BOUND).unwrap();
    }
}

/// Empties every member's queue (stands in for the write that drains it).
fn drain(shard: &mut Shard<()>) {
    for (_, conn) in shard.iter_mut() {
        conn.out.clear();
    }
}

/// Encode-once against encode-per-recipient, per group size; throughput
/// counts deliveries (one per member).
fn fanout(c: &mut Criterion) {
    let payload = sample::envelope(128, true);
    let mut scratch = Vec::new();
    let env = msg::parse(&payload, SENDER, &mut scratch).unwrap();
    let mut group = c.benchmark_group("room_fanout");
    for members in [10usize, 100, 1000] {
        let mut shard = room(members);
        group.throughput(Throughput::Elements(members as u64));
        group.bench_with_input(
            BenchmarkId::new("encode_once", members),
            &members,
            |b, _| {
                b.iter(|| {
                    let frame = msg::stamped_frame(black_box(&payload), &env, SENDER, 9, 1);
                    queue_all(&mut shard, &frame);
                    drain(&mut shard);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("encode_per_recipient", members),
            &members,
            |b, _| {
                b.iter(|| {
                    for i in 0..shard.group_keys(GID).len() {
                        let key = shard.group_keys(GID)[i];
                        let frame = msg::stamped_frame(black_box(&payload), &env, SENDER, 9, 1);
                        let conn = shard.by_key_mut(key).expect("indexed member");
                        conn.out.push(&frame, QUEUE_BOUND).unwrap();
                    }
                    drain(&mut shard);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
