//! The daemon's per-message work on a client envelope, sans-IO: parse and
//! validate (`msg::parse`, one simd-json pass over a reused scratch
//! buffer), then stamp (`msg::stamped_frame`: `userid`, `seq`, `ts` spliced
//! into the client's bytes, framed into one shared `Bytes`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imedge::msg;
use imedge_benches::sample;

const SIZES: [usize; 3] = [128, 1024, 16 * 1024];
const UID: i64 = 5;

/// Parse and validate only: what a refused message costs before its error.
fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope_parse");
    for size in SIZES {
        let payload = sample::envelope(size, false);
        let mut scratch = Vec::new();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| msg::parse(black_box(&payload), UID, &mut scratch).unwrap())
        });
    }
    group.finish();
}

/// Parse, validate and stamp a single (cmd 10) and a room (cmd 11)
/// message: the whole per-message path up to the frame every recipient shares.
fn parse_and_stamp(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope_parse_stamp");
    for (kind, room) in [("single", false), ("room", true)] {
        for size in SIZES {
            let payload = sample::envelope(size, room);
            let mut scratch = Vec::new();
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(BenchmarkId::new(kind, size), &size, |b, _| {
                b.iter(|| {
                    let env = msg::parse(black_box(&payload), UID, &mut scratch).unwrap();
                    msg::stamped_frame(&payload, &env, UID, 123_456, 1_763_800_000_000)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, parse, parse_and_stamp);
criterion_main!(benches);
