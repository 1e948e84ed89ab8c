//! Payload masking throughput: this crate against the peers, the naive byte loop and
//! `copy_from_slice` (the memory-bandwidth reference), at 16 B to 1 MiB, aligned and not.
//!
//! Group `mask` masks one buffer again and again; at the small sizes that times how fast a
//! store is forwarded to the next call's load of the same bytes. Group `mask_fresh` masks a
//! different payload each call (256 of them, in the L1 cache), as a server masks each frame
//! once after it arrives.
//!
//! `cargo bench --bench mask`; results and ratios are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "peers/tungstenite_mask.rs"]
mod tungstenite_mask;

const SIZES: [usize; 5] = [16, 125, 1024, 64 * 1024, 1024 * 1024];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A buffer whose slice at `misalign` bytes past a 64-byte boundary is `len` long.
struct Buffer {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buffer {
    fn new(len: usize, misalign: usize) -> Buffer {
        let storage: Vec<u8> = (0..len + 128).map(|i| i as u8).collect();
        let start = storage.as_ptr().align_offset(64) + misalign;
        Buffer { storage, start, len }
    }

    fn slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for (alignment, misalign) in [("aligned", 0), ("unaligned", 1)] {
            let parameter = format!("{size}/{alignment}");
            let mut buffer = Buffer::new(size, misalign);
            group.bench_with_input(BenchmarkId::new("wsmachine", &parameter), &(), |b, ()| {
                b.iter(|| wsmachine::frame::apply_mask(black_box(buffer.slice()), black_box(KEY)))
            });
            group.bench_with_input(BenchmarkId::new("fastwebsockets", &parameter), &(), |b, ()| {
                b.iter(|| fastwebsockets::unmask(black_box(buffer.slice()), black_box(KEY)))
            });
            group.bench_with_input(BenchmarkId::new("tungstenite", &parameter), &(), |b, ()| {
                b.iter(|| {
                    tungstenite_mask::apply_mask_fast32(black_box(buffer.slice()), black_box(KEY))
                })
            });
            group.bench_with_input(BenchmarkId::new("naive", &parameter), &(), |b, ()| {
                b.iter(|| {
                    wsmachine::frame::apply_mask_naive(black_box(buffer.slice()), black_box(KEY), 0)
                })
            });
            let source = vec![0x5a; size];
            group.bench_with_input(
                BenchmarkId::new("copy_from_slice", &parameter),
                &(),
                |b, ()| b.iter(|| buffer.slice().copy_from_slice(black_box(&source))),
            );
        }
    }
    group.finish();
}

/// Payloads `FRESH_STRIDE` bytes apart, each masked once per round of `FRESH_SLOTS` calls.
const FRESH_SLOTS: usize = 256;
const FRESH_STRIDE: usize = 128;

/// A masking function under test: payload, key.
type MaskFn = fn(&mut [u8], [u8; 4]);

fn mask_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask_fresh");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let functions: [(&str, MaskFn); 3] = [
        ("wsmachine", wsmachine::frame::apply_mask),
        ("fastwebsockets", fastwebsockets::unmask),
        ("tungstenite", tungstenite_mask::apply_mask_fast32),
    ];
    for size in [16, 125] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut storage: Vec<u8> = (0..FRESH_SLOTS * FRESH_STRIDE + 64).map(|i| i as u8).collect();
        let base = storage.as_ptr().align_offset(64);
        for (name, function) in functions {
            let mut slot = 0;
            group.bench_with_input(BenchmarkId::new(name, size), &(), |b, ()| {
                b.iter(|| {
                    slot = (slot + 1) % FRESH_SLOTS;
                    let start = base + slot * FRESH_STRIDE;
                    function(black_box(&mut storage[start..start + size]), black_box(KEY))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, mask, mask_fresh);
criterion_main!(benches);
