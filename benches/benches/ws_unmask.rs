//! Unmasking throughput (bytes per second, so criterion reports GB/s) of
//! the daemon's `apply_mask` against a byte-at-a-time loop, at sizes from a
//! chat message to the largest frame, starting at an odd offset.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imedge::ws::mask::apply_mask;

const SIZES: [usize; 3] = [128, 1024, 64 * 1024];
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `apply_mask` (word-wide XOR) and the bytewise baseline over one payload.
fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_unmask");
    for size in SIZES {
        let mut buf = vec![b'a'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("apply_mask", size), &size, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(MASK), 1))
        });
        group.bench_with_input(BenchmarkId::new("bytewise", size), &size, |b, _| {
            b.iter(|| {
                for (i, byte) in black_box(&mut buf).iter_mut().enumerate() {
                    *byte ^= MASK[(i + 1) % 4];
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, unmask);
criterion_main!(benches);
