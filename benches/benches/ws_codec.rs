//! WebSocket codec benchmarks: frame decoding and encoding at message sizes
//! from 16 B to 64 KiB, and unmasking throughput. No network involved.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imedge::ws::decode::{Decoder, Role, Step};
use imedge::ws::encode::{self, OpCode};
use imedge::ws::mask::apply_mask;

const SIZES: [usize; 5] = [16, 128, 1024, 16 * 1024, 64 * 1024];

/// A JSON-ish ASCII text payload of `len` bytes.
fn text(len: usize) -> Vec<u8> {
    br#"{"cmd":1,"to":42,"body":"hello there"}"#.iter().copied().cycle().take(len).collect()
}

/// Server-role decoding of one masked text frame: header checks, unmasking
/// and UTF-8 validation.
fn decode_text(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_decode_text");
    for size in SIZES {
        // An all-zero key leaves the payload unchanged, so the same buffer can
        // be decoded again and again while unmasking still does its work.
        let mut frame = Vec::new();
        encode::client_frame(OpCode::Text, true, &text(size), [0; 4], &mut frame);
        let mut decoder = Decoder::new(Role::Server, 1 << 20);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| {
                let step = decoder.decode(black_box(&mut frame)).unwrap();
                assert!(matches!(step, Step::Message { .. }));
                step
            })
        });
    }
    group.finish();
}

/// Encoding one unmasked server text frame into a fresh shared `Bytes`
/// (allocation plus one payload copy), as the daemon does per message.
fn encode_server(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_encode_server");
    for size in SIZES {
        let payload = text(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| encode::frame(OpCode::Text, black_box(&payload)))
        });
    }
    group.finish();
}

/// Encoding one masked client text frame into a reused buffer (copy plus
/// masking), as the load generator does per message.
fn encode_client(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_encode_client");
    for size in SIZES {
        let payload = text(size);
        let mut out = Vec::with_capacity(size + 14);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| {
                out.clear();
                encode::client_frame(
                    OpCode::Text,
                    true,
                    black_box(&payload),
                    [1, 2, 3, 4],
                    &mut out,
                );
                out.len()
            })
        });
    }
    group.finish();
}

/// Unmasking throughput of `apply_mask`, against a plain byte-at-a-time loop
/// as the baseline, on a 64 KiB payload at an odd offset.
fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_unmask");
    let mut buf = text(64 * 1024);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("apply_mask/65536", |b| {
        b.iter(|| apply_mask(black_box(&mut buf), black_box(mask), 1))
    });
    group.bench_function("bytewise/65536", |b| {
        b.iter(|| {
            for (i, byte) in black_box(&mut buf).iter_mut().enumerate() {
                *byte ^= mask[(i + 1) % 4];
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode_text, encode_server, encode_client, unmask);
criterion_main!(benches);
