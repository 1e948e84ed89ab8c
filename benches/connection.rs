//! Messages through a server connection, in memory: receive masked client messages and echo
//! each one, for 16 B, 1 KiB and 64 KiB messages, against tungstenite's `WebSocket` over an
//! in-memory stream in the same run.
//!
//! `cargo bench --bench connection && scripts/bench_table.py connection`; results and ratios
//! are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use wsmachine::frame::{apply_mask, FrameHeader, Opcode};
use wsmachine::handshake::Negotiated;
use wsmachine::{Config, Connection, Event, Role};

/// Masked binary messages of `size` bytes, as a client sends them, enough to make `total`
/// bytes but at least 100 messages.
fn client_messages(size: usize) -> (Vec<u8>, u64) {
    let count = (4 << 20) / (size + 14);
    let count = count.clamp(100, 20_000);
    let mut out = Vec::with_capacity(count * (size + 14));
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    for i in 0..count {
        let key = (i as u32).wrapping_mul(2_654_435_761).to_ne_bytes();
        let header = FrameHeader::new(Opcode::Binary, size as u64).with_mask(key);
        let mut head = [0u8; 14];
        let head_len = header.encode(&mut head).unwrap();
        out.extend_from_slice(&head[..head_len]);
        let start = out.len();
        out.extend_from_slice(&payload);
        apply_mask(&mut out[start..], key);
    }
    (out, count as u64)
}

/// An in-memory duplex stream: reads from the prepared input, writes into a sink.
struct MemoryStream {
    input: io::Cursor<Vec<u8>>,
    written: Vec<u8>,
}

impl Read for MemoryStream {
    /// Like a non-blocking socket with nothing more to read when the input is used up (an
    /// EOF would make tungstenite refuse the echoes of the last messages).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.input.read(buf)? {
            0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            read => Ok(read),
        }
    }
}

impl Write for MemoryStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for size in [16usize, 1024, 64 * 1024] {
        let (input, count) = client_messages(size);
        group.throughput(Throughput::Elements(count));
        group.bench_with_input(BenchmarkId::new("wsmachine", size), &input, |b, input| {
            let mut out = Vec::with_capacity(input.len());
            b.iter_batched_ref(
                || Connection::open(Role::Server, Negotiated::default(), Config::default()),
                |server| {
                    // Reads of 64 KiB, as a socket would deliver them.
                    let mut echoed = 0u64;
                    for read in input.chunks(64 * 1024) {
                        server.receive(read);
                        while let Some(Ok(event)) = server.poll_event() {
                            if let Event::Binary(data) = event {
                                server.send_binary(&data).unwrap();
                                echoed += 1;
                            }
                        }
                        out.clear();
                        server.poll_transmit(&mut out);
                        black_box(&out);
                    }
                    assert_eq!(echoed, count);
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("tungstenite", size), &input, |b, input| {
            b.iter_batched_ref(
                || {
                    let stream = MemoryStream {
                        input: io::Cursor::new(input.clone()),
                        written: Vec::with_capacity(input.len()),
                    };
                    tungstenite::WebSocket::from_raw_socket(
                        stream,
                        tungstenite::protocol::Role::Server,
                        None,
                    )
                },
                |socket| {
                    let mut echoed = 0u64;
                    while let Ok(message) = socket.read() {
                        if message.is_binary() {
                            socket.write(message).unwrap();
                            echoed += 1;
                        }
                    }
                    socket.flush().unwrap();
                    assert_eq!(echoed, count);
                    black_box(&socket.get_ref().written);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, echo);
criterion_main!(benches);
