//! Messages through a server connection, in memory, against the peers in the same run:
//!
//! - `receive`: 10,000 masked client frames of 2–125 bytes (random lengths, text and binary),
//!   read as events; tungstenite's `WebSocket::read` and fastwebsockets' `read_frame` do the
//!   same over an in-memory stream.
//! - `connection`: receive masked client messages and echo each one, for 16 B, 1 KiB and
//!   64 KiB messages, against tungstenite's `WebSocket`.
//! - `client_send`: 10,000 client messages of 16 B, each masked with a fresh key, from the
//!   default source (ChaCha12, `OsSeededRandom`), from the SipHash-over-a-counter source it
//!   replaced (kept here as the reference), and through tungstenite's client `WebSocket`
//!   (`rand`'s ChaCha-based `ThreadRng`).
//!
//! Each run's input is prepared just before it is timed (`BatchSize::PerIteration`, or `timed`
//! for `receive`), so every reader starts with its input in the cache, as after a read from a
//! socket.
//!
//! `cargo bench --bench connection && scripts/bench_table.py receive && scripts/bench_table.py
//! connection`; results and ratios are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use wsmachine::frame::{apply_mask, FrameHeader, Opcode};
use wsmachine::handshake::Negotiated;
use wsmachine::{Config, Connection, Event, EventRef, Role};

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
        // Read in place and echoed from the read buffer, as the mio example does.
        group.bench_with_input(BenchmarkId::new("wsmachine", size), &input, |b, input| {
            let mut out = Vec::with_capacity(input.len());
            b.iter_batched_ref(
                || {
                    let server = Connection::open(
                        Role::Server,
                        Negotiated::default(),
                        Config::default(),
                        Instant::now(),
                    );
                    (server, input.clone())
                },
                |(server, input)| {
                    let mut echoed = 0u64;
                    for read in input.chunks_mut(64 * 1024) {
                        let mut read = server.receive_in_place(read);
                        while let Some(Ok((event, responder))) = read.poll_event_ref() {
                            if let EventRef::Binary(data) = event {
                                responder.send_binary(data).unwrap();
                                echoed += 1;
                            }
                        }
                        drop(read);
                        out.clear();
                        server.poll_transmit(&mut out);
                        black_box(&out);
                    }
                    assert_eq!(echoed, count);
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(BenchmarkId::new("wsmachine-owned", size), &input, |b, input| {
            let mut out = Vec::with_capacity(input.len());
            b.iter_batched_ref(
                || {
                    Connection::open(
                        Role::Server,
                        Negotiated::default(),
                        Config::default(),
                        Instant::now(),
                    )
                },
                |server| {
                    // Reads of 64 KiB, as a socket would deliver them.
                    let mut echoed = 0u64;
                    for read in input.chunks(64 * 1024) {
                        server.receive(read);
                        while let Some(Ok(event)) = server.poll_event() {
                            if let Event::Binary(data) = event {
                                server.sender().send_binary(&data).unwrap();
                                echoed += 1;
                            }
                        }
                        out.clear();
                        server.poll_transmit(&mut out);
                        black_box(&out);
                    }
                    assert_eq!(echoed, count);
                },
                BatchSize::PerIteration,
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
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// How many frames the receive benchmark reads.
const RECEIVE_FRAMES: usize = 10_000;

/// `RECEIVE_FRAMES` masked client frames of 2–125 bytes, alternating text (ASCII) and binary,
/// with lengths and keys from a fixed pseudo-random sequence, and their total payload length.
fn mixed_small_frames() -> (Vec<u8>, usize) {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut out = Vec::with_capacity(RECEIVE_FRAMES * 131);
    let mut total = 0;
    for i in 0..RECEIVE_FRAMES {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = 2 + (seed % 124) as usize;
        let opcode = if i % 2 == 0 { Opcode::Text } else { Opcode::Binary };
        let key = ((seed >> 32) as u32).to_ne_bytes();
        let header = FrameHeader::new(opcode, len as u64).with_mask(key);
        let mut head = [0u8; 14];
        let head_len = header.encode(&mut head).unwrap();
        out.extend_from_slice(&head[..head_len]);
        let start = out.len();
        out.extend((0..len).map(|j| b'a' + ((i + j) % 26) as u8));
        apply_mask(&mut out[start..], key);
        total += len;
    }
    (out, total)
}

impl tokio::io::AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let input = &mut self.get_mut().input;
        let start = input.position() as usize;
        let rest = &input.get_ref()[start..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        input.set_position((start + n) as u64);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemoryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn memory_stream(input: &[u8]) -> MemoryStream {
    MemoryStream { input: io::Cursor::new(input.to_vec()), written: Vec::new() }
}

/// Times `routine` alone over `iters` runs, each on what `setup` prepared just before it
/// (given the previous run's state, to reuse its buffers).
fn timed<S>(
    iters: u64,
    mut setup: impl FnMut(Option<S>) -> S,
    mut routine: impl FnMut(&mut S),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut previous = None;
    for _ in 0..iters {
        let mut state = setup(previous.take());
        let start = Instant::now();
        routine(&mut state);
        total += start.elapsed();
        previous = Some(black_box(state));
    }
    total
}

fn receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    let (input, total) = mixed_small_frames();
    let count = RECEIVE_FRAMES as u64;
    group.throughput(Throughput::Elements(count));
    // Read in place (`receive_in_place`): what an event loop with one read buffer for every
    // connection uses; the messages are unmasked and lent where the read put them. The read
    // buffer is refilled before each run, as a read from a socket would.
    group.bench_with_input(BenchmarkId::new("wsmachine", "2-125"), &input, |b, input| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |previous: Option<(Connection, Vec<u8>)>| {
                    let mut read_buffer =
                        previous.map_or_else(|| input.clone(), |(_, buffer)| buffer);
                    read_buffer.copy_from_slice(input);
                    let server = Connection::open(
                        Role::Server,
                        Negotiated::default(),
                        Config::default(),
                        Instant::now(),
                    );
                    (server, read_buffer)
                },
                |(server, read_buffer)| {
                    // Reads of 64 KiB, as a socket would deliver them.
                    let mut bytes = 0;
                    for read in read_buffer.chunks_mut(64 * 1024) {
                        let mut read = server.receive_in_place(read);
                        while let Some(Ok((event, _))) = read.poll_event_ref() {
                            match event {
                                EventRef::Text(text) => bytes += text.len(),
                                EventRef::Binary(data) => bytes += data.len(),
                                other => unreachable!("{other:?}"),
                            }
                        }
                    }
                    assert_eq!(bytes, total);
                },
            )
        })
    });
    // Borrowed events (`poll_event_ref`) from the connection's own buffer.
    group.bench_with_input(BenchmarkId::new("wsmachine-borrowed", "2-125"), &input, |b, input| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |_| {
                    Connection::open(
                        Role::Server,
                        Negotiated::default(),
                        Config::default(),
                        Instant::now(),
                    )
                },
                |server| {
                    let mut bytes = 0;
                    for read in input.chunks(64 * 1024) {
                        server.receive(read);
                        while let Some(Ok((event, _))) = server.poll_event_ref() {
                            match event {
                                EventRef::Text(text) => bytes += text.len(),
                                EventRef::Binary(data) => bytes += data.len(),
                                other => unreachable!("{other:?}"),
                            }
                        }
                    }
                    assert_eq!(bytes, total);
                },
            )
        })
    });
    // Owned events (`poll_event`): each message a reference-counted `Bytes`.
    group.bench_with_input(BenchmarkId::new("wsmachine-owned", "2-125"), &input, |b, input| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |_| {
                    Connection::open(
                        Role::Server,
                        Negotiated::default(),
                        Config::default(),
                        Instant::now(),
                    )
                },
                |server| {
                    let mut bytes = 0;
                    for read in input.chunks(64 * 1024) {
                        server.receive(read);
                        while let Some(Ok(event)) = server.poll_event() {
                            match event {
                                Event::Text(text) => bytes += text.as_bytes().len(),
                                Event::Binary(data) => bytes += data.len(),
                                other => unreachable!("{other:?}"),
                            }
                        }
                    }
                    assert_eq!(bytes, total);
                },
            )
        })
    });
    group.bench_with_input(BenchmarkId::new("tungstenite", "2-125"), &input, |b, input| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |_| {
                    tungstenite::WebSocket::from_raw_socket(
                        memory_stream(input),
                        tungstenite::protocol::Role::Server,
                        None,
                    )
                },
                |socket| {
                    let mut bytes = 0;
                    for _ in 0..count {
                        bytes += socket.read().unwrap().len();
                    }
                    assert_eq!(bytes, total);
                },
            )
        })
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    group.bench_with_input(BenchmarkId::new("fastwebsockets", "2-125"), &input, |b, input| {
        b.iter_custom(|iters| {
            timed(
                iters,
                |_| {
                    fastwebsockets::WebSocket::after_handshake(
                        memory_stream(input),
                        fastwebsockets::Role::Server,
                    )
                },
                |socket| {
                    runtime.block_on(async {
                        let mut bytes = 0;
                        for _ in 0..count {
                            bytes += socket.read_frame().await.unwrap().payload.len();
                        }
                        assert_eq!(bytes, total);
                    })
                },
            )
        })
    });
    group.finish();
}

/// The masking-key source before ChaCha20: SipHash (std's, keyed once from the OS) over a
/// counter, 8 bytes a hash.
struct SipHashCounter {
    keys: std::collections::hash_map::RandomState,
    counter: u64,
}

impl wsmachine::RandomSource for SipHashCounter {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use std::hash::{BuildHasher, Hasher};
        for chunk in dest.chunks_mut(8) {
            self.counter += 1;
            let mut hasher = self.keys.build_hasher();
            hasher.write_u64(self.counter);
            chunk.copy_from_slice(&hasher.finish().to_ne_bytes()[..chunk.len()]);
        }
    }
}

/// Client messages sent.
const CLIENT_MESSAGES: u64 = 10_000;

fn client_send(c: &mut Criterion) {
    fn send_all<R: wsmachine::RandomSource>(client: &mut Connection<R>, out: &mut Vec<u8>) {
        let payload = [7u8; 16];
        for _ in 0..CLIENT_MESSAGES {
            client.sender().send_binary(&payload).unwrap();
        }
        out.clear();
        client.poll_transmit(out);
        black_box(&out);
    }
    let mut group = c.benchmark_group("client_send");
    group.throughput(Throughput::Elements(CLIENT_MESSAGES));
    let mut out = Vec::with_capacity(CLIENT_MESSAGES as usize * 22);
    group.bench_function("wsmachine-chacha12", |b| {
        let mut client = Connection::open_with(
            Role::Client,
            Negotiated::default(),
            Config::default(),
            wsmachine::OsSeededRandom::new(),
            Instant::now(),
        );
        b.iter(|| send_all(&mut client, &mut out));
    });
    group.bench_function("wsmachine-siphash-counter", |b| {
        let random = SipHashCounter { keys: Default::default(), counter: 0 };
        let mut client = Connection::open_with(
            Role::Client,
            Negotiated::default(),
            Config::default(),
            random,
            Instant::now(),
        );
        b.iter(|| send_all(&mut client, &mut out));
    });
    group.bench_function("tungstenite", |b| {
        let stream = MemoryStream {
            input: io::Cursor::new(Vec::new()),
            written: Vec::with_capacity(CLIENT_MESSAGES as usize * 22),
        };
        let mut socket = tungstenite::WebSocket::from_raw_socket(
            stream,
            tungstenite::protocol::Role::Client,
            None,
        );
        let payload = tungstenite::Bytes::from_static(&[7u8; 16]);
        b.iter(|| {
            for _ in 0..CLIENT_MESSAGES {
                socket.write(tungstenite::Message::Binary(payload.clone())).unwrap();
            }
            socket.flush().unwrap();
            black_box(&socket.get_ref().written);
            socket.get_mut().written.clear();
        });
    });
    group.finish();
}

criterion_group!(benches, receive, echo, client_send);
criterion_main!(benches);
