//! Heap allocations on the steady-state echo path: after a warm-up, a server receiving a
//! small masked text message, reading its event, sending the text back and taking its output
//! into a reused buffer must not allocate, and neither must the client's side of the round trip.
//!
//! Allocations are counted by a global allocator that forwards to [`System`] and counts the
//! `alloc`, `alloc_zeroed` and `realloc` calls made by the thread being measured.

#![cfg(feature = "std")]
// The counting allocator needs `unsafe impl GlobalAlloc`; Cargo.toml denies (rather than
// forbids) unsafe code outside the library so that this file can allow it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use wsmachine::handshake::ClientHandshake;
use wsmachine::{Config, Connection, Event};

/// Forwards to [`System`], counting allocations per thread.
struct CountingAllocator;

thread_local! {
    /// Allocation calls made by this thread so far. A `const` thread-local of a type without
    /// `Drop` needs no lazy initialisation, so touching it cannot allocate or recurse.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

thread_local! {
    /// Bytes this thread allocated and has not freed (freeing another thread's memory is
    /// counted against the freeing thread; the measured code is single-threaded).
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn add_live(bytes: isize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

fn count_one() {
    // `try_with` rather than `with`: never panic inside the allocator, even during thread
    // teardown.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

fn allocations_so_far() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method passes its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly, and returns what `System` returned; counting only updates a
// thread-local integer and touches no memory handed out by the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        add_live(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        add_live(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract, forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_live(-(layout.size() as isize));
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        add_live(new_size as isize - layout.size() as isize);
        // SAFETY: `ptr` came from `System` with `layout`, and the caller upholds
        // `GlobalAlloc::realloc`'s contract for `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Echoes run before counting starts, so that buffers reach their working size.
const WARMUP: usize = 1_000;
/// Echoes whose allocations are counted.
const MEASURED: usize = 10_000;
/// The 16-byte message echoed.
const MESSAGE: &str = "0123456789abcdef";

/// A client and a server joined in memory, past the opening handshake.
fn open_pair() -> (Connection, Connection) {
    let mut server = Connection::server(Config::default(), Instant::now());
    let handshake = ClientHandshake::new("ws://localhost/echo").expect("valid URI");
    let mut client =
        Connection::client(handshake, Config::default(), Instant::now()).expect("valid request");
    let mut wire = Vec::new();
    client.poll_transmit(&mut wire);
    server.receive(&wire);
    wire.clear();
    let Some(Ok(Event::Request(request))) = server.poll_event() else {
        panic!("the server did not report the request");
    };
    server.accept(request.accept()).expect("accept");
    server.poll_transmit(&mut wire);
    client.receive(&wire);
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    assert!(client.poll_event().is_none());
    (client, server)
}

/// The reused buffers of the echo loop and the allocations counted on each side.
#[derive(Default)]
struct Echo {
    /// Client to server.
    up: Vec<u8>,
    /// Server to client.
    down: Vec<u8>,
    server_allocations: usize,
    client_allocations: usize,
}

impl Echo {
    /// One round trip: the client sends [`MESSAGE`]; the server receives it, reads the event,
    /// sends the text back and takes its output; the client reads the echo.
    fn round_trip(&mut self, client: &mut Connection, server: &mut Connection) {
        let start = allocations_so_far();
        client.sender().send_text(MESSAGE).expect("send");
        self.up.clear();
        client.poll_transmit(&mut self.up);
        let client_sent = allocations_so_far();

        server.receive(&self.up);
        let Some(Ok(Event::Text(text))) = server.poll_event() else {
            panic!("the server did not report the text");
        };
        server.sender().send_text(text.as_str()).expect("echo");
        drop(text);
        assert!(server.poll_event().is_none());
        self.down.clear();
        server.poll_transmit(&mut self.down);
        let server_done = allocations_so_far();

        client.receive(&self.down);
        let Some(Ok(Event::Text(text))) = client.poll_event() else {
            panic!("the client did not report the echo");
        };
        assert_eq!(text.as_str(), MESSAGE);
        drop(text);
        let end = allocations_so_far();

        self.server_allocations += server_done - client_sent;
        self.client_allocations += (client_sent - start) + (end - server_done);
    }
}

/// Prints the connection's size, then counts the allocations of [`MEASURED`] echoes after
/// [`WARMUP`] of them, on the server's side and on the client's: there must be none.
#[test]
fn steady_state_echo_does_not_allocate() {
    println!("size_of::<Connection>() = {} bytes", size_of::<Connection>());
    let (mut client, mut server) = open_pair();
    let mut echo = Echo::default();
    for _ in 0..WARMUP {
        echo.round_trip(&mut client, &mut server);
    }
    // The counter works: this allocates once.
    let before = allocations_so_far();
    drop(std::hint::black_box(Box::new(0u64)));
    assert_eq!(allocations_so_far() - before, 1, "the counting allocator is not in use");

    echo.server_allocations = 0;
    echo.client_allocations = 0;
    for _ in 0..MEASURED {
        echo.round_trip(&mut client, &mut server);
    }
    #[allow(clippy::cast_precision_loss)]
    let per_message = |count: usize| count as f64 / MEASURED as f64;
    println!(
        "allocations over {MEASURED} echoes: server {} ({:.3} per message), client {} ({:.3} \
         per message)",
        echo.server_allocations,
        per_message(echo.server_allocations),
        echo.client_allocations,
        per_message(echo.client_allocations),
    );
    assert_eq!(echo.server_allocations, 0, "allocations on the server's echo path");
    assert_eq!(echo.client_allocations, 0, "allocations on the client's side of the round trip");
}

/// The heap an open, idle server connection keeps: its handshake buffers are released once
/// the handshake is done and its output taken, so an idle connection holds nothing but its
/// own struct (recorded in docs/benchmarks.md).
#[test]
fn an_idle_open_connection_holds_no_heap() {
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let before = live_bytes();
    let mut server = Connection::server(Config::default(), Instant::now());
    server.receive(request);
    let Some(Ok(Event::Request(upgrade))) = server.poll_event() else { panic!("no request") };
    server.accept(upgrade.accept()).expect("offered");
    drop(upgrade);
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    drop(out);
    assert_eq!(server.poll_event(), None);
    let held = live_bytes() - before;
    println!(
        "idle open connection: {held} heap bytes, size_of::<Connection>() = {}",
        std::mem::size_of::<Connection>()
    );
    assert_eq!(held, 0, "an idle connection keeps {held} bytes of heap");
    drop(server);
}

/// A client and a server connection with `config`, the handshake done at `start`, and the
/// server's heap after it (the client's bytes are made before measuring: only the server's
/// heap is counted). The server is given the time after each input, as the adapters do.
#[cfg(feature = "deflate")]
fn handshaken_pair(config: Config, start: Instant) -> (Connection, Connection, isize) {
    let handshake = ClientHandshake::new("ws://localhost/echo").expect("valid URI");
    let mut client = Connection::client(handshake, config, start).expect("valid request");
    let mut request = Vec::new();
    client.poll_transmit(&mut request);

    let before = live_bytes();
    let mut server = Connection::server(config, start);
    server.receive(&request);
    server.handle_timeout(start);
    let Some(Ok(Event::Request(upgrade))) = server.poll_event() else { panic!("no request") };
    server.accept(upgrade.accept()).expect("offered");
    drop(upgrade);
    let mut response = Vec::new();
    server.poll_transmit(&mut response);
    let after_handshake = live_bytes() - before;
    client.receive(&response);
    assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
    (client, server, after_handshake)
}

/// The 1,036-byte JSON-like text the client sends compressed and the server echoes: returns
/// the live heap just before the server received it, less the server's heap after the
/// handshake (`live_bytes()` minus this is then the server's heap, whatever the client holds),
/// and the echo's length on the wire.
#[cfg(feature = "deflate")]
fn echo_compressed(
    client: &mut Connection,
    server: &mut Connection,
    after_handshake: isize,
    now: Instant,
) -> (isize, usize) {
    let message = "{\"user\":\"ada\",\"text\":\"hello, world\"} ".repeat(28);
    client.sender().send_text(&message).expect("send");
    let mut up = Vec::new();
    client.poll_transmit(&mut up);
    assert_eq!(up[0] & 0x40, 0x40, "the message is compressed");

    let before = live_bytes();
    server.receive(&up);
    server.handle_timeout(now);
    let Some(Ok(Event::Text(text))) = server.poll_event() else { panic!("no text") };
    assert_eq!(text.as_str(), message);
    server.sender().send_text(text.as_str()).expect("echo");
    drop(text);
    let mut down = Vec::new();
    server.poll_transmit(&mut down);
    let wire_len = down.len();
    drop(down);
    // The client's frame and the message were live at `before` and are freed on return.
    let freed = isize::try_from(up.capacity() + message.capacity()).expect("small");
    (before - freed - after_handshake, wire_len)
}

/// One message each way on a throwaway pair, so that the thread's shared compressor and spare
/// inflater exist before a connection's heap is measured.
#[cfg(feature = "deflate")]
fn warm_up_thread_codecs(config: Config) {
    let now = Instant::now();
    let (mut client, mut server, during) = handshaken_pair(config, now);
    echo_compressed(&mut client, &mut server, during, now);
    let mut echo = Vec::new();
    server.poll_transmit(&mut echo);
    client.receive(&echo);
    while client.poll_event().is_some() {}
}

/// A connection whose keepalive interval passes gives back what `release_buffers()` would:
/// after a message each way, with the shared preset (no context kept) the server holds its
/// receive and send buffers; once the keepalive Ping has gone out it holds only the record of
/// what was negotiated, as after the handshake. So every adapter's idle connections shrink
/// without calling `release_buffers()` themselves.
#[cfg(feature = "deflate")]
#[test]
fn the_keepalive_ping_gives_back_an_idle_connections_buffers() {
    use std::time::Duration;
    use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};

    let mut config = Config::default();
    config.deflate = Some(DeflateConfig::preset(DeflatePreset::Shared));
    let start = Instant::now();
    warm_up_thread_codecs(config);
    let (mut client, mut server, after_handshake) = handshaken_pair(config, start);
    let (base, _) = echo_compressed(&mut client, &mut server, after_handshake, start);
    let busy = live_bytes() - base;
    // The receive and send buffers; the thread's shared compressor and spare inflater are the
    // thread's (made during the first message), not the connection's.
    assert!(busy > after_handshake + 1_000, "the buffers: {busy} bytes");

    // Just before the interval (less its jitter of up to 2 s) nothing is given back.
    server.handle_timeout(start + Duration::from_secs(17));
    assert_eq!(live_bytes() - base, busy);
    server.handle_timeout(start + Duration::from_secs(21));
    let mut ping = Vec::new();
    server.poll_transmit(&mut ping);
    assert_eq!(ping[0], 0x89, "the keepalive Ping went out");
    drop(ping);
    let idle = live_bytes() - base;
    println!("shared preset: {busy} heap bytes after a message each way, {idle} after the Ping");
    assert_eq!(idle, after_handshake, "buffers and inflater given back");
    drop(server);
}

/// The heap a server connection holds with permessage-deflate in force, after one 1 KiB text
/// message each way, then after `release_buffers()`, for every preset: memory falls from one
/// preset to the next. With `shared` (no context takeover either way) the connection
/// compresses with its thread's shared compressor and inflates with the thread's spare
/// inflater (both made by a warm-up exchange on the same thread: not the connection's), so it
/// holds only its buffers, and an idle one keeps only the record of what was negotiated.
/// Recorded in docs/benchmarks.md.
#[cfg(feature = "deflate")]
#[test]
fn deflate_memory_per_connection() {
    use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};

    let mut previous = isize::MAX;
    for preset in DeflatePreset::ALL {
        let name = preset.name();
        let mut config = Config::default();
        config.deflate = Some(DeflateConfig::preset(preset));
        let start = Instant::now();
        warm_up_thread_codecs(config);
        let (mut client, mut server, during) = handshaken_pair(config, start);
        println!("deflate {name}: {during} heap bytes after the handshake");
        let (base, wire_len) = echo_compressed(&mut client, &mut server, during, start);
        let active = live_bytes() - base;
        server.release_buffers();
        let idle = live_bytes() - base;
        println!(
            "deflate {name}: {active} heap bytes after the message each way ({wire_len} \
             bytes on the wire), {idle} after release_buffers()"
        );
        assert!(active > 0 && active < 512 << 10, "{name}: {active} bytes");
        assert!(active < previous, "{name}: {active} bytes, not less than the preset before");
        previous = active;
        if preset == DeflatePreset::Shared {
            // Buffers only: the compressor is the thread's, and so is the inflater, lent for
            // each message (zlib-rs's is 47,552 B, whatever the window).
            assert!(active < 4 << 10, "{name}: {active} bytes with traffic");
            // Left: only the record of what was negotiated (`Connection::negotiated`).
            assert_eq!(idle, during, "without context takeover the codecs are released");
        } else {
            assert!(idle > 0, "context takeover keeps the compression windows");
        }
        drop(server);
    }
}

/// A compressed connection leaves nothing behind: 50 client/server pairs with
/// permessage-deflate (context kept, default windows) each exchange messages both ways and are
/// dropped; the thread's live heap is back where it started. (The soak test's RSS growth with
/// compression is the allocator keeping freed zlib windows, not a leak.)
#[cfg(feature = "deflate")]
#[test]
fn compressed_connections_leave_nothing_behind() {
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    let before = live_bytes();
    for round in 0..50 {
        let handshake = ClientHandshake::new("ws://localhost/echo").expect("valid URI");
        let mut client = Connection::client(handshake, config, Instant::now()).expect("request");
        let mut server = Connection::server(config, Instant::now());
        let mut wire = Vec::new();
        client.poll_transmit(&mut wire);
        server.receive(&wire);
        let Some(Ok(Event::Request(upgrade))) = server.poll_event() else { panic!("request") };
        server.accept(upgrade.accept()).expect("offered");
        drop(upgrade);
        wire.clear();
        server.poll_transmit(&mut wire);
        client.receive(&wire);
        assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
        for size in [10, 1000, 100_000] {
            let message = format!("{round}").repeat(size);
            client.sender().send_text(&message).expect("send");
            wire.clear();
            client.poll_transmit(&mut wire);
            server.receive(&wire);
            let Some(Ok(Event::Text(text))) = server.poll_event() else { panic!("text") };
            server.sender().send_text(text.as_str()).expect("echo");
            wire.clear();
            server.poll_transmit(&mut wire);
            client.receive(&wire);
            let Some(Ok(Event::Text(echo))) = client.poll_event() else { panic!("echo") };
            assert_eq!(echo.as_str(), message);
        }
    }
    assert_eq!(live_bytes() - before, 0, "heap bytes left after 50 compressed connections");
}

/// The fast level's compressor (our own, not zlib-rs's) holds its history and its table and
/// nothing else, however much it has sent: twice the window (plus 512 bytes below 1 KiB) and
/// 2^(memLevel+7) two-byte entries.
#[cfg(feature = "deflate")]
#[test]
fn a_fast_level_compressor_holds_only_its_history_and_table_after_traffic() {
    use wsmachine::extensions::deflate::{CompressorSettings, MessageCompressor};
    for (window_bits, memory_level) in [(9u8, 1u8), (10, 2), (12, 5), (15, 8)] {
        let history = (2usize << window_bits) + if window_bits < 10 { 512 } else { 0 };
        let table = 2usize << (memory_level + 7);
        let before = live_bytes();
        let settings = CompressorSettings { level: 1, memory_level };
        let mut compressor = MessageCompressor::with_settings(window_bits, false, settings);
        let mut out = Vec::with_capacity(4096);
        for i in 0..400u32 {
            let message =
                format!("{{\"seq\":{i},\"text\":\"{}\"}}", "tick ".repeat((i % 200) as usize));
            out.clear();
            compressor.compress(message.as_bytes(), &mut out);
        }
        let held = live_bytes() - before - out.capacity() as isize;
        assert!(
            held > 0 && held as usize <= history + table + 128,
            "{window_bits} bits, memLevel {memory_level}: {held} bytes held, {history} + {table} expected"
        );
        eprintln!("{window_bits} bits, memLevel {memory_level}: {held} bytes after 400 messages");
    }
}

/// How much a client and a server with `preset` (alike, so the pair holds twice one
/// connection) hold once they have exchanged 300 messages of 20 B to 4 KiB each way and
/// released their buffers: their compression context at its largest.
#[cfg(feature = "deflate")]
fn pair_after_long_traffic(preset: wsmachine::extensions::deflate::DeflatePreset) -> isize {
    use wsmachine::extensions::deflate::DeflateConfig;
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig::preset(preset));
    let now = Instant::now();
    warm_up_thread_codecs(config);
    let before = live_bytes();
    let (mut client, mut server, _) = handshaken_pair(config, now);
    for i in 0..300usize {
        let message = format!("{{\"seq\":{i},\"text\":\"{}\"}}", "hello world ".repeat(i % 340));
        client.sender().send_text(&message).expect("send");
        let mut up = Vec::new();
        client.poll_transmit(&mut up);
        assert_eq!(up[0] & 0x40, 0x40, "compressed");
        server.receive(&up);
        let Some(Ok(Event::Text(text))) = server.poll_event() else { panic!("no text") };
        server.sender().send_text(text.as_str()).expect("echo");
        drop(text);
        let mut down = Vec::new();
        server.poll_transmit(&mut down);
        client.receive(&down);
        let Some(Ok(Event::Text(echo))) = client.poll_event() else { panic!("no echo") };
        assert_eq!(echo.as_str(), message);
    }
    server.release_buffers();
    client.release_buffers();
    live_bytes() - before
}

/// The `smallest` preset keeps context both ways in at most 16 KiB per connection however
/// long it runs (the compression-memory issue's bound); every preset's figure is printed for
/// docs/benchmarks.md.
#[cfg(feature = "deflate")]
#[test]
fn the_smallest_preset_stays_within_16_kib_a_connection_with_context_kept() {
    use wsmachine::extensions::deflate::DeflatePreset;
    for preset in DeflatePreset::ALL {
        let held = pair_after_long_traffic(preset);
        println!(
            "{} preset, after 300 messages each way: {held} bytes for the pair",
            preset.name()
        );
        if preset == DeflatePreset::Smallest {
            assert!(held > 0 && held <= 32 << 10, "{held} bytes for two connections");
        }
    }
}
