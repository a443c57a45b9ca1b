//! WebSocket frame parse (server role: header checks, unmasking, UTF-8) and
//! encode (server and client frames) at 16 B, 128 B, 1 KiB, 16 KiB and
//! 64 KiB payloads. No network involved; unmasking alone is in ws_unmask.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imedge::ws::decode::{Decoder, Role, Step};
use imedge::ws::encode::{self, OpCode};

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

criterion_group!(benches, decode_text, encode_server, encode_client);
criterion_main!(benches);
