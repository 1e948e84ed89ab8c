//! Frame header parsing: 10,000 mixed small masked frames (as a server receives them) parsed
//! from one buffer, against tungstenite's `FrameHeader::parse`.
//!
//! `cargo bench --bench frame`; throughput is in frames per second (ns per frame = 1e9 / it);
//! results and ratios are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wsmachine::frame::{apply_mask, FrameHeader, HeaderRules, Opcode, Status};
use wsmachine::Role;

#[path = "peers/tungstenite_mask.rs"]
mod tungstenite_mask;

const FRAMES: usize = 10_000;

/// 10,000 masked frames: payloads of 2 to 125 bytes, mostly text and binary with some pings,
/// split messages and pongs, from a fixed pseudo-random sequence.
fn frames() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    let mut in_message = false;
    for _ in 0..FRAMES {
        let roll = next();
        let len = 2 + (roll % 124);
        let (opcode, fin) = match roll >> 60 {
            0 => (Opcode::Ping, true),
            1 => (Opcode::Pong, true),
            2 if !in_message => (Opcode::Text, false),
            2 | 3 if in_message => (Opcode::Continuation, roll & 1 == 0),
            4..=9 => (Opcode::Text, true),
            _ => (Opcode::Binary, true),
        };
        let (opcode, fin) = if in_message && opcode.is_data() && opcode != Opcode::Continuation {
            (Opcode::Continuation, true)
        } else {
            (opcode, fin)
        };
        if opcode.is_data() {
            in_message = !fin;
        }
        let key = (next() as u32).to_ne_bytes();
        let header = FrameHeader::new(opcode, len).with_fin(fin).with_mask(key);
        let mut head = [0u8; 14];
        let head_len = header.encode(&mut head).unwrap();
        out.extend_from_slice(&head[..head_len]);
        let mut payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        apply_mask(&mut payload, key);
        out.extend(payload);
    }
    out
}

fn parse(c: &mut Criterion) {
    let mut buffer = frames();
    let rules = HeaderRules::new(Role::Server);
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));

    group.bench_function(BenchmarkId::new("wsmachine", "parse"), |b| {
        b.iter(|| {
            let mut rest = black_box(&buffer[..]);
            let mut payload_bytes = 0u64;
            while let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(rest, &rules)
            {
                payload_bytes += header.payload_len;
                rest = &rest[header_len + header.payload_len as usize..];
            }
            payload_bytes
        })
    });
    group.bench_function(BenchmarkId::new("tungstenite", "parse"), |b| {
        b.iter(|| {
            let mut cursor = Cursor::new(black_box(&buffer[..]));
            let mut payload_bytes = 0u64;
            while let Ok(Some((_header, len))) =
                tungstenite::protocol::frame::FrameHeader::parse(&mut cursor)
            {
                payload_bytes += len;
                cursor.set_position(cursor.position() + len);
            }
            payload_bytes
        })
    });

    group.bench_function(BenchmarkId::new("wsmachine", "parse_unmask"), |b| {
        b.iter(|| {
            let mut rest = black_box(&mut buffer[..]);
            while let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(rest, &rules)
            {
                let frame_len = header_len + header.payload_len as usize;
                let (frame, tail) = rest.split_at_mut(frame_len);
                if let Some(key) = header.mask {
                    apply_mask(&mut frame[header_len..], key);
                }
                rest = tail;
            }
        })
    });
    group.bench_function(BenchmarkId::new("tungstenite", "parse_unmask"), |b| {
        b.iter(|| {
            let mut rest = black_box(&mut buffer[..]);
            loop {
                let mut cursor = Cursor::new(&*rest);
                let Ok(Some((header, len))) =
                    tungstenite::protocol::frame::FrameHeader::parse(&mut cursor)
                else {
                    break;
                };
                let header_len = cursor.position() as usize;
                let (frame, tail) = rest.split_at_mut(header_len + len as usize);
                if let Some(key) = header.mask {
                    tungstenite_mask::apply_mask_fast32(&mut frame[header_len..], key);
                }
                rest = tail;
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
