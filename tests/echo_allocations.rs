//! Heap allocations per echoed message in the two event-loop integrations, `echo_mio` (the
//! sans-IO API on mio) and `echo_tokio` (the tokio adapter's borrowed path, with the
//! feature `tokio`), and in the adapter's owned-message loop for short messages, over real
//! loopback sockets: after a warm-up, echoing thousands more messages (16 B and 1 KiB, or 16
//! and 32 B, streamed in batches and one at a time) must not allocate at all on the server's
//! thread.
//!
//! The examples' own code runs here (included as modules), each server on a thread of its own
//! that marks itself as counted; a global allocator forwards to [`System`] and counts the
//! allocation calls of counted threads only, so the client in the test thread does not count.

// The counting allocator needs `unsafe impl GlobalAlloc`; Cargo.toml denies (rather than
// forbids) unsafe code outside the library so that this file can allow it.
#![allow(unsafe_code)]
// Both examples include `examples/shared/args.rs` as a module of their own.
#![allow(clippy::duplicate_mod)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[allow(dead_code)] // its `main` and argument parsing are not used here
#[path = "../examples/echo_mio.rs"]
mod echo_mio;

// echo_tokio runs on the crate's tokio adapter (feature `tokio`).
#[cfg(feature = "tokio")]
#[allow(dead_code)]
#[path = "../examples/echo_tokio.rs"]
mod echo_tokio;

/// Allocation calls made by each server's thread: index 1 `echo_mio`, 2 `echo_tokio`, 3 the
/// tokio adapter's owned messages (0 is every other thread).
static ALLOCATIONS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

thread_local! {
    /// Which count this thread's allocations go to. A `const` thread-local of a type without
    /// `Drop` needs no lazy initialisation, so touching it cannot allocate or recurse.
    static COUNTER: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: never panic inside the allocator, even during thread teardown.
    let counter = COUNTER.try_with(Cell::get).unwrap_or(0);
    ALLOCATIONS[counter].fetch_add(1, Ordering::Relaxed);
}

/// Forwards to [`System`], counting the allocations of counted threads.
struct CountingAllocator;

// SAFETY: every method passes its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly, and returns what `System` returned; counting only reads a
// thread-local flag and updates an atomic integer, touching no memory handed out here.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract, forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: `ptr` came from `System` with `layout`, and the caller upholds
        // `GlobalAlloc::realloc`'s contract for `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const ECHO_MIO: usize = 1;
#[cfg(feature = "tokio")]
const ECHO_TOKIO: usize = 2;
#[cfg(feature = "tokio")]
const OWNED_ECHO: usize = 3;

/// Counts the calling thread's allocations in `counter`.
fn count_this_thread(counter: usize) {
    COUNTER.with(|current| current.set(counter));
}

/// A server's allocations so far, once it has had a moment to finish what it was doing.
fn server_allocations(counter: usize) -> usize {
    std::thread::sleep(Duration::from_millis(50));
    ALLOCATIONS[counter].load(Ordering::SeqCst)
}

/// Starts `echo_mio` on a counted thread and returns its address.
fn start_echo_mio() -> SocketAddr {
    let address = "127.0.0.1:0".parse().expect("an address");
    let mut server = echo_mio::Server::new(
        address,
        wsmachine::Config::default(),
        echo_mio::admission::Limits { total: 1000, per_address: 1000 },
    )
    .expect("echo_mio starts");
    let address = server.listener.local_addr().expect("bound");
    std::thread::spawn(move || {
        count_this_thread(ECHO_MIO);
        let _ = server.run();
    });
    address
}

/// Starts `serve` on a listener of its own, in a current-thread runtime on a thread counted
/// in `counter`, and returns its address.
#[cfg(feature = "tokio")]
fn start_on_tokio<F>(
    counter: usize,
    serve: impl FnOnce(tokio::net::TcpListener) -> F + Send + 'static,
) -> SocketAddr
where
    F: std::future::Future<Output = ()>,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        count_this_thread(counter);
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bound");
            sender.send(listener.local_addr().expect("bound")).expect("the test waits");
            serve(listener).await;
        });
    });
    receiver.recv().expect("the server starts")
}

/// Starts `echo_tokio` and returns its address.
#[cfg(feature = "tokio")]
fn start_echo_tokio() -> SocketAddr {
    start_on_tokio(ECHO_TOKIO, |listener| async move {
        let limits = echo_tokio::admission::Limits { total: 1000, per_address: 1000 };
        let _ = echo_tokio::serve_all(listener, wsmachine::Config::default(), limits).await;
    })
}

/// Starts an echo server written the obvious way on the tokio adapter (`recv`, then `send`
/// the owned message back) and returns its address.
#[cfg(feature = "tokio")]
fn start_owned_echo() -> SocketAddr {
    start_on_tokio(OWNED_ECHO, |listener| async move {
        let (stream, _) = listener.accept().await.expect("a connection");
        let mut ws = wsmachine::tokio::accept(stream).await.expect("a WebSocket");
        while let Some(Ok(message)) = ws.recv().await {
            ws.send(message).await.expect("echoed");
        }
    })
}

/// A client over a blocking socket, past the opening handshake.
struct Client {
    stream: TcpStream,
}

impl Client {
    fn connect(address: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        stream
            .write_all(
                b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                  Sec-WebSocket-Version: 13\r\n\r\n",
            )
            .expect("request");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("response");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
        Client { stream }
    }

    /// Sends `count` binary messages of `size` bytes in batches of `batch` and checks every
    /// echo, reading each batch's echoes before sending the next batch.
    fn echo(&mut self, size: usize, count: usize, batch: usize) {
        let (request, reply) = frames(size, batch);
        let mut echoed = vec![0; reply.len()];
        for _ in 0..count / batch {
            self.stream.write_all(&request).expect("send");
            self.stream.read_exact(&mut echoed).expect("echo");
            assert!(echoed == reply, "the echo of a batch of {batch} {size}-byte messages differs");
        }
    }
}

/// `count` masked client frames of `size` bytes each, and the server's unmasked echo of them.
fn frames(size: usize, count: usize) -> (Vec<u8>, Vec<u8>) {
    let key = [0x12, 0x34, 0x56, 0x78];
    let length: Vec<u8> = match size {
        0..=125 => vec![size as u8],
        _ => vec![126, (size >> 8) as u8, size as u8],
    };
    let (mut request, mut reply) = (Vec::new(), Vec::new());
    for message in 0..count {
        let payload: Vec<u8> = (0..size).map(|i| (i + message) as u8).collect();
        request.push(0x82);
        request.push(0x80 | length[0]);
        request.extend_from_slice(&length[1..]);
        request.extend_from_slice(&key);
        request.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ key[i % 4]));
        reply.push(0x82);
        reply.extend_from_slice(&length);
        reply.extend_from_slice(&payload);
    }
    (request, reply)
}

/// Warms `address` up, then echoes messages of each of `sizes` streamed and one at a time and
/// asserts that the server allocated nothing meanwhile.
fn assert_no_allocations_per_message(
    server: &str,
    counter: usize,
    address: SocketAddr,
    sizes: &[usize],
) {
    let mut client = Client::connect(address);
    // Warm-up: the same traffic as measured, so that every buffer reaches its working size.
    for &size in sizes {
        client.echo(size, 2_000, 100);
        client.echo(size, 200, 1);
    }

    let before = server_allocations(counter);
    for &size in sizes {
        client.echo(size, 20_000, 100);
        client.echo(size, 2_000, 1);
    }
    let allocations = server_allocations(counter) - before;
    let messages = 22_000 * sizes.len() as u32;
    assert_eq!(
        allocations,
        0,
        "{server} allocated {allocations} times over {messages} echoes ({:.4} per message)",
        allocations as f64 / f64::from(messages)
    );
}

#[test]
fn echo_mio_allocates_nothing_per_echoed_message() {
    assert_no_allocations_per_message("echo_mio", ECHO_MIO, start_echo_mio(), &[16, 1024]);
}

#[cfg(feature = "tokio")]
#[test]
fn echo_tokio_allocates_nothing_per_echoed_message() {
    assert_no_allocations_per_message("echo_tokio", ECHO_TOKIO, start_echo_tokio(), &[16, 1024]);
}

/// Owned messages short enough to be held inline (`wsmachine::Payload`) cost no allocation
/// either: no buffer, no reference count, and `send` keeps nothing in its future.
#[cfg(feature = "tokio")]
#[test]
fn the_owned_echo_loop_allocates_nothing_per_short_message() {
    assert_no_allocations_per_message("the owned echo", OWNED_ECHO, start_owned_echo(), &[16, 32]);
}
