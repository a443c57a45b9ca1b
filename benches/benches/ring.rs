//! Ring lookups, as the message path makes them: the owner node of a user
//! id on rings of 3 and 50 servers (480 and 8,000 points). Building the ring
//! is measured too, since a node rebuilds it on every membership change.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use imedge::cluster::Ring;

fn ring(servers: usize) -> Ring {
    let entries: Vec<String> = (0..servers)
        .map(|i| format!("10.0.{}.{}:9001", i / 250, i % 250 + 1))
        .collect();
    Ring::parse(&entries).unwrap()
}

fn owner_of_uid(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_owner_of_uid");
    for servers in [3, 50] {
        let r = ring(servers);
        group.bench_with_input(BenchmarkId::from_parameter(servers), &r, |b, r| {
            let mut uid = 1_000_000u64;
            b.iter(|| {
                uid = uid.wrapping_add(7919);
                black_box(r.owner_of_uid(black_box(uid)))
            })
        });
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_build");
    for servers in [3, 50] {
        group.bench_with_input(BenchmarkId::from_parameter(servers), &servers, |b, &n| {
            b.iter(|| black_box(ring(n)))
        });
    }
    group.finish();
}

criterion_group!(benches, owner_of_uid, build);
criterion_main!(benches);
