//! Cluster datagram benchmarks: sealing a deliver datagram (batching, one
//! copy per frame, HMAC-SHA256) and accepting one (framing checks, MAC,
//! replay window, walking the items), for ten 100-byte frames and for one
//! frame filling a 1,400-byte datagram. No network involved.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use imedge::cluster::wire::{
    Datagram, DeliverItem, Item, Key, Outbox, Payload, Receiver, Sealer, Settings, Target,
};

const SECRET: &[u8] = b"benchmark cluster secret";
const A: u32 = 1;
const B: u32 = 2;

/// The two shapes measured: (name, frame sizes in one datagram).
fn shapes() -> [(&'static str, Vec<usize>); 2] {
    let full = Settings::default().max_unfragmented();
    [("10x100B", vec![100; 10]), ("1x1400B", vec![full])]
}

fn frames(sizes: &[usize]) -> Vec<Item> {
    let frame = |i: usize, len: usize| Bytes::from(vec![b'a' + (i % 26) as u8; len]);
    let items = sizes.iter().enumerate();
    items
        .map(|(i, &len)| {
            Item::Deliver(DeliverItem {
                target: Target::User(i as i64),
                frame: frame(i, len),
            })
        })
        .collect()
}

fn outbox() -> Outbox {
    Outbox::new(
        Sealer::new(Key::new(SECRET).unwrap(), A, 1),
        Settings::default(),
    )
    .unwrap()
}

/// Seals one datagram from `items` (pushed, then flushed).
fn seal(tx: &mut Outbox, items: &[Item], out: &mut Vec<Datagram>) {
    out.clear();
    for item in items {
        tx.push(B, item.clone(), 0, out).unwrap();
    }
    tx.flush(B, out);
}

/// Batching, framing and sealing one deliver datagram, as the daemon does
/// per peer per flush (the send history keeps each datagram, as in service).
fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("datagram_encode");
    for (name, sizes) in shapes() {
        let items = frames(&sizes);
        let mut tx = outbox();
        let mut out = Vec::with_capacity(4);
        group.throughput(Throughput::Bytes(sizes.iter().sum::<usize>() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                seal(&mut tx, black_box(&items), &mut out);
                assert_eq!(out.len(), 1);
            })
        });
    }
    group.finish();
}

/// Accepting one deliver datagram into a fresh receiver and walking its
/// frames (each a slice of the datagram, no copy).
fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("datagram_decode");
    let settings = Settings::default();
    for (name, sizes) in shapes() {
        let mut out = Vec::new();
        seal(&mut outbox(), &frames(&sizes), &mut out);
        let datagram = out[0].bytes.clone();
        group.throughput(Throughput::Bytes(sizes.iter().sum::<usize>() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || Receiver::new(Key::new(SECRET).unwrap(), B, 1, [A], &settings).unwrap(),
                |mut rx| {
                    let acc = rx.accept(black_box(datagram.clone()), 0).unwrap();
                    let Payload::Deliver(items) = acc.payload else {
                        panic!("not a delivery")
                    };
                    let n = items.map(|i| i.frame.len()).sum::<usize>();
                    assert_eq!(n, sizes.iter().sum::<usize>());
                    rx
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
