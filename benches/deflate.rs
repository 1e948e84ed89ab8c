//! permessage-deflate throughput: compressing and inflating messages the way a connection does
//! (raw DEFLATE, sync flush per message, 32 KiB window, context takeover, zlib's level 6), with
//! zlib-rs (what the crate uses, through its own codec) against flate2's other pure-Rust
//! backend, miniz_oxide, called directly, in the same run. The levels and presets a
//! connection uses by default are compared in `benches/deflate_presets.rs`.
//!
//! `cargo bench --features deflate --bench deflate && scripts/bench_table.py deflate_compress zlib-rs`
//! (and `deflate_decompress`); results are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};
use wsmachine::extensions::deflate::{MessageCompressor, MessageDecompressor};

/// Message sizes: a chat line, a typical JSON document, a large document.
const SIZES: [usize; 3] = [128, 4096, 65536];

/// Bytes of messages per measured batch, so that every size moves about the same data.
const BATCH_BYTES: usize = 512 * 1024;

/// Distinct JSON-like messages of `size` bytes (keys repeat, values vary), as an application
/// would send them: compressible, but not trivially so.
fn messages(size: usize) -> Vec<Vec<u8>> {
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let count = (BATCH_BYTES / size).max(1);
    (0..count)
        .map(|id| {
            let mut message = format!("{{\"id\":{id},\"items\":[");
            while message.len() < size {
                let n = next();
                let word = WORDS[(n % 16) as usize];
                message.push_str(&format!(
                    "{{\"name\":\"{word}\",\"value\":{},\"tag\":\"{:x}\"}},",
                    n % 10_000,
                    n >> 40
                ));
            }
            message.truncate(size);
            message.into_bytes()
        })
        .collect()
}

/// miniz_oxide configured like the connection's compressor: raw DEFLATE, 15-bit window,
/// level 6, default strategy.
fn miniz_compressor() -> Box<CompressorOxide> {
    Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0)))
}

/// Compresses one message with a sync flush and drops the `00 00 ff ff` tail (RFC 7692
/// §7.2.1), as `MessageCompressor::compress` does.
fn miniz_compress(compressor: &mut CompressorOxide, payload: &[u8], out: &mut Vec<u8>) {
    let mut consumed = 0;
    loop {
        let start = out.len();
        let room = payload.len() - consumed + 64;
        out.resize(start + room, 0);
        let result = miniz_oxide::deflate::stream::deflate(
            compressor,
            &payload[consumed..],
            &mut out[start..],
            MZFlush::Sync,
        );
        consumed += result.bytes_consumed;
        out.truncate(start + result.bytes_written);
        if consumed >= payload.len() && result.bytes_written < room {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
}

/// Inflates one message plus its restored tail into `out` (sized for the message).
fn miniz_decompress(state: &mut InflateState, compressed: &[u8], out: &mut Vec<u8>, size: usize) {
    out.clear();
    out.resize(size + 64, 0);
    let mut produced = 0;
    for input in [compressed, &[0, 0, 0xff, 0xff]] {
        let mut consumed = 0;
        while consumed < input.len() {
            let result = miniz_oxide::inflate::stream::inflate(
                state,
                &input[consumed..],
                &mut out[produced..],
                MZFlush::Sync,
            );
            assert!(result.status.is_ok(), "miniz_oxide failed to inflate");
            consumed += result.bytes_consumed;
            produced += result.bytes_written;
        }
    }
    out.truncate(produced);
}

/// The batch compressed in order by one compressor (context taken over message to message).
fn compressed(batch: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut compressor = MessageCompressor::new(15, false);
    batch
        .iter()
        .map(|message| {
            let mut out = Vec::new();
            compressor.compress(message, &mut out);
            out
        })
        .collect()
}

fn compress(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate_compress");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for size in SIZES {
        let batch = messages(size);
        let total: usize = batch.iter().map(Vec::len).sum();
        group.throughput(Throughput::Bytes(total as u64));
        let mut out = Vec::with_capacity(2 * size + 64);
        let mut ours = MessageCompressor::new(15, false);
        group.bench_with_input(BenchmarkId::new("zlib-rs", size), &batch, |b, batch| {
            b.iter(|| {
                for message in batch {
                    out.clear();
                    ours.compress(message, &mut out);
                    black_box(&out);
                }
            });
        });
        let mut miniz = miniz_compressor();
        group.bench_with_input(BenchmarkId::new("miniz_oxide", size), &batch, |b, batch| {
            b.iter(|| {
                for message in batch {
                    out.clear();
                    miniz_compress(&mut miniz, message, &mut out);
                    black_box(&out);
                }
            });
        });
        // Both produce valid permessage-deflate data that inflates back to the message.
        let mut check = Vec::new();
        miniz_compress(&mut miniz_compressor(), &batch[0], &mut check);
        let mut inflated = Vec::new();
        let mut decompressor = MessageDecompressor::new(15, false);
        decompressor.decompress(&check, &mut inflated, size).unwrap();
        decompressor.finish_message(&mut inflated, size).unwrap();
        assert_eq!(inflated, batch[0]);
    }
    group.finish();
}

fn decompress(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate_decompress");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for size in SIZES {
        let batch = messages(size);
        let wire = compressed(&batch);
        let total: usize = batch.iter().map(Vec::len).sum();
        let on_wire: usize = wire.iter().map(Vec::len).sum();
        eprintln!(
            "{size} B messages: compressed to {:.1}% on the wire",
            100.0 * on_wire as f64 / total as f64
        );
        group.throughput(Throughput::Bytes(total as u64));
        let mut out = Vec::with_capacity(size + 64);
        group.bench_with_input(BenchmarkId::new("zlib-rs", size), &wire, |b, wire| {
            b.iter_batched_ref(
                || MessageDecompressor::new(15, false),
                |decompressor| {
                    for message in wire {
                        out.clear();
                        decompressor.decompress(message, &mut out, size).unwrap();
                        decompressor.finish_message(&mut out, size).unwrap();
                        black_box(&out);
                    }
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_with_input(BenchmarkId::new("miniz_oxide", size), &wire, |b, wire| {
            b.iter_batched_ref(
                || InflateState::new_boxed(DataFormat::Raw),
                |state| {
                    for message in wire {
                        miniz_decompress(state, message, &mut out, size);
                        black_box(&out);
                    }
                },
                BatchSize::LargeInput,
            );
        });
        // Both inflate the batch back to the messages.
        let mut state = InflateState::new_boxed(DataFormat::Raw);
        for (message, compressed) in batch.iter().zip(&wire) {
            miniz_decompress(&mut state, compressed, &mut out, size);
            assert_eq!(&out, message);
        }
    }
    group.finish();
}

criterion_group!(benches, compress, decompress);
criterion_main!(benches);
