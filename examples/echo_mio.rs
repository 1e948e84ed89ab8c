//! An echo server on mio: one thread, one `Poll`, many connections.
//!
//! ```text
//! cargo run --release --example echo_mio -- 127.0.0.1:9001
//! cargo run --release --features deflate --example echo_mio -- 127.0.0.1:9001 --deflate
//! ```
//!
//! Every text and binary message is sent back; the closing handshake is answered.
//!
//! # Structure
//!
//! - **Connections** live in a slab (`Vec<Option<Conn>>` plus a free list); a connection's
//!   token is its slot index plus one (token 0 is the listener). Each [`Conn`] holds its
//!   non-blocking socket, its [`Connection`], the output the socket has not taken yet and its
//!   timestamps.
//! - **Reads** go into one 256 KiB buffer shared by all connections, and are repeated until
//!   `WouldBlock` (mio is edge-triggered). The connection reads each read in place
//!   ([`Connection::receive_in_place`]): every message is unmasked and echoed from where the
//!   read put it; only a frame cut off by the end of the read is copied into the connection.
//! - **Writes** happen right after each read. The echoes are queued in one output buffer that
//!   the loop lends to the connection being read ([`Connection::lend_output_buffer`]) and
//!   takes back with the output; what the socket does not take stays with the connection as
//!   its pending output, and only then is `WRITABLE` interest registered, to be dropped again
//!   once it is all written. A connection whose output is written holds no output buffer.
//!   While more than [`HIGH_WATER`] bytes are pending, reading pauses (a peer that sends but
//!   does not read cannot grow our memory); it resumes once the socket takes the output.
//! - **Timers** are the loop's own: a `BinaryHeap` of (deadline, slot, connection id) and
//!   `poll` sleeps until the earliest. Each connection computes its one next deadline from
//!   what it waits for: the handshake (10 s after accepting), a keepalive ping (30 s
//!   without input or ping, sent with `send_ping`), the idle deadline (120 s without input),
//!   or the close deadline (5 s after a Close is under way or the transport should close). A
//!   heap entry is only pushed when it is earlier than the one already armed; an entry whose
//!   connection is gone (id mismatch) or was superseded is skipped when it comes due, and one
//!   that comes due early (input moved the deadline) is pushed again for the new deadline.
//! - **Removal**: once `should_close_transport()` and the output is all written, or on a
//!   socket error or a passed deadline, the socket is deregistered and dropped.
//! - **Memory**: once a connection's output is written and it has been quiet for a keepalive
//!   interval, `release_buffers()` frees its buffers, so idle connections hold almost no heap.
//!
//! A bad peer ends its own connection, never the server.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use wsmachine::{Config, Connection, Waiting};

#[path = "shared/echo.rs"]
mod echo;
use echo::{echo_message, handle_other};

const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
const IDLE_DEADLINE: Duration = Duration::from_secs(120);
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Pending output above which a connection stops reading until the socket takes more.
const HIGH_WATER: usize = 1024 * 1024;
const LISTENER: Token = Token(0);
/// The read buffer every connection shares.
const READ_BUFFER_LEN: usize = 256 * 1024;

fn main() -> io::Result<()> {
    let address = address_from_args();
    let address: SocketAddr = address
        .parse()
        .map_err(|error| io::Error::new(ErrorKind::InvalidInput, format!("{address}: {error}")))?;
    let mut server = Server::new(address, config_from_args())?;
    eprintln!("echo_mio listening on ws://{}", server.listener.local_addr()?);
    server.run()
}

/// The event loop's state.
#[derive(Debug)]
struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// (deadline, slot, connection id), earliest first.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    next_id: u64,
    /// Where every read goes.
    scratch: Vec<u8>,
    /// The output buffer lent to the connection being read; empty between reads.
    out: Vec<u8>,
    config: Config,
}

/// What to do with a connection after handling something.
enum Next {
    Keep,
    Remove,
}

impl Server {
    fn new(address: SocketAddr, config: Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(address)?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Server {
            poll,
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            timers: BinaryHeap::new(),
            next_id: 0,
            scratch: vec![0; READ_BUFFER_LEN],
            out: Vec::with_capacity(READ_BUFFER_LEN),
            config,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((at, _, _))| at.saturating_duration_since(Instant::now()));
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    Token(token) => {
                        let slot = token - 1;
                        let result = match self.conns.get_mut(slot).and_then(Option::as_mut) {
                            Some(conn) if event.is_writable() && !event.is_readable() => {
                                conn.on_writable(&mut self.scratch, &mut self.out)
                            }
                            Some(conn) => conn.on_readable(&mut self.scratch, &mut self.out),
                            None => continue,
                        };
                        self.settle(slot, result);
                    }
                }
            }
            self.fire_timers();
        }
    }

    /// Accepts every waiting connection (the listener is edge-triggered too).
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if let Err(error) = self.add(stream, peer) {
                        eprintln!("connection {peer}: {error}");
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    // Out of file descriptors, say: the next incoming connection retries.
                    eprintln!("accept failed: {error}");
                    return;
                }
            }
        }
    }

    fn add(&mut self, mut stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if let Err(error) =
            self.poll.registry().register(&mut stream, Token(slot + 1), Interest::READABLE)
        {
            self.free.push(slot);
            return Err(error);
        }
        self.next_id += 1;
        let now = Instant::now();
        self.conns[slot] = Some(Conn {
            stream,
            peer,
            connection: Connection::server(self.config),
            output: Vec::new(),
            written: 0,
            writable_interest: false,
            id: self.next_id,
            accepted_at: now,
            last_received: now,
            last_ping: now,
            closing_since: None,
            armed: None,
        });
        // Bytes may already be waiting; edge-triggered readiness may not report them again.
        let conn = self.conns[slot].as_mut().expect("just added");
        let result = conn.on_readable(&mut self.scratch, &mut self.out);
        self.settle(slot, result);
        Ok(())
    }

    /// After a connection handled something: removes it, or updates its interest, buffers
    /// and timer.
    fn settle(&mut self, slot: usize, result: io::Result<()>) {
        let Some(conn) = self.conns[slot].as_mut() else { return };
        let next = result.and_then(|()| conn.settle(self.poll.registry(), Token(slot + 1)));
        match next {
            Ok(Next::Keep) => {
                let deadline = conn.deadline();
                if conn.armed.is_none_or(|armed| deadline < armed) {
                    conn.armed = Some(deadline);
                    self.timers.push(Reverse((deadline, slot, conn.id)));
                }
            }
            Ok(Next::Remove) => self.remove(slot),
            Err(error) => {
                eprintln!("connection {}: {error}", conn.peer);
                self.remove(slot);
            }
        }
    }

    fn remove(&mut self, slot: usize) {
        if let Some(mut conn) = self.conns[slot].take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            let _ = conn.stream.shutdown(Shutdown::Both);
            self.free.push(slot);
        }
    }

    /// Runs every timer that has come due.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, slot, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns[slot].as_mut() else { continue };
            if conn.id != id || conn.armed != Some(at) {
                continue; // the connection is gone, or an earlier entry superseded this one
            }
            conn.armed = None;
            let result = conn.on_timer(now, &mut self.out);
            self.settle(slot, result);
        }
    }
}

/// One connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
    /// Output not yet taken by the socket starts at `written`.
    output: Vec<u8>,
    written: usize,
    writable_interest: bool,
    /// Distinguishes this connection from a later one in the same slot.
    id: u64,
    accepted_at: Instant,
    last_received: Instant,
    last_ping: Instant,
    /// When a Close got under way or the transport was due to close.
    closing_since: Option<Instant>,
    /// The earliest timer entry in the heap for this connection.
    armed: Option<Instant>,
}

impl Conn {
    fn pending(&self) -> usize {
        self.output.len() - self.written
    }

    /// Reads until `WouldBlock`, the end of the transport, or too much pending output; the
    /// echoes go out after each read.
    fn on_readable(&mut self, scratch: &mut [u8], out: &mut Vec<u8>) -> io::Result<()> {
        loop {
            if self.connection.should_close_transport() {
                break;
            }
            if self.pending() > HIGH_WATER {
                self.write_out(out)?;
                if self.pending() > HIGH_WATER {
                    break; // paused: on_writable resumes reading
                }
            }
            match self.stream.read(scratch) {
                Ok(0) => {
                    self.connection.receive_eof();
                    while let Some(next) = self.connection.poll_event_ref() {
                        if let Some(event) = echo_message(next) {
                            handle_other(&mut self.connection, event);
                        }
                    }
                    break;
                }
                Ok(read) => {
                    self.last_received = Instant::now();
                    if self.pending() == 0 {
                        self.connection.lend_output_buffer(std::mem::take(out));
                    }
                    let mut input = self.connection.receive_in_place(&mut scratch[..read]);
                    while let Some(next) = input.poll_event_ref() {
                        if let Some(event) = echo_message(next) {
                            handle_other(input.connection(), event);
                        }
                    }
                    drop(input);
                    self.write_out(out)?;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.write_out(out)
    }

    /// Writes pending output; resumes reading if it had paused for the output.
    fn on_writable(&mut self, scratch: &mut [u8], out: &mut Vec<u8>) -> io::Result<()> {
        let paused = self.pending() > HIGH_WATER;
        self.write_out(out)?;
        if paused && self.pending() <= HIGH_WATER {
            self.on_readable(scratch, out)?;
        }
        Ok(())
    }

    /// A deadline or the keepalive interval may have passed.
    fn on_timer(&mut self, now: Instant, out: &mut Vec<u8>) -> io::Result<()> {
        if now < self.deadline() {
            return Ok(()); // input moved the deadline; settle arms the new one
        }
        let expired = match (self.closing_since, self.connection.waiting_for()) {
            (None, Waiting::Request | Waiting::Decision | Waiting::Response) => "handshake",
            (None, Waiting::Messages) if now >= self.last_received + IDLE_DEADLINE => "idle",
            (None, Waiting::Messages) => {
                self.last_ping = now;
                if self.connection.send_ping(b"keepalive").is_ok() {
                    self.write_out(out)?;
                }
                return Ok(());
            }
            _ => "close",
        };
        Err(io::Error::new(ErrorKind::TimedOut, format!("{expired} deadline passed")))
    }

    /// Takes what the connection queued and writes all pending output until it is written or
    /// the socket would block. Once it is all written, the larger buffer goes back to the
    /// loop as `out`, and the connection keeps none.
    fn write_out(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.connection.poll_transmit(&mut self.output);
        while self.pending() > 0 {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(wrote) => self.written += wrote,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if self.pending() == 0 {
            let mut written = std::mem::take(&mut self.output);
            written.clear();
            self.written = 0;
            if written.capacity() > out.capacity() {
                *out = written;
            }
        } else if self.written >= HIGH_WATER {
            self.output.drain(..self.written);
            self.written = 0;
        }
        Ok(())
    }

    /// Decides whether the connection is over, registers `WRITABLE` interest only while
    /// output is pending, and frees the buffers of a quiet connection.
    fn settle(&mut self, registry: &Registry, token: Token) -> io::Result<Next> {
        let now = Instant::now();
        let waiting = self.connection.waiting_for();
        let closing = self.connection.should_close_transport()
            || matches!(waiting, Waiting::CloseReply | Waiting::TransportClose | Waiting::Nothing);
        if closing && self.closing_since.is_none() {
            self.closing_since = Some(now);
        }
        let pending = self.pending() > 0;
        if !pending && (self.connection.should_close_transport() || waiting == Waiting::Nothing) {
            return Ok(Next::Remove);
        }
        if pending != self.writable_interest {
            let interest =
                if pending { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            registry.reregister(&mut self.stream, token, interest)?;
            self.writable_interest = pending;
        }
        if !pending
            && waiting == Waiting::Messages
            && now.duration_since(self.last_received) >= PING_INTERVAL
        {
            self.connection.release_buffers();
        }
        Ok(Next::Keep)
    }

    /// The one deadline this connection's timer is for, from what it waits for.
    fn deadline(&self) -> Instant {
        match (self.closing_since, self.connection.waiting_for()) {
            (Some(since), _) => since + CLOSE_DEADLINE,
            (None, Waiting::Request | Waiting::Decision | Waiting::Response) => {
                self.accepted_at + HANDSHAKE_DEADLINE
            }
            (None, _) => (self.last_received.max(self.last_ping) + PING_INTERVAL)
                .min(self.last_received + IDLE_DEADLINE),
        }
    }
}

/// The configuration: permessage-deflate with `--deflate` (built with `--features deflate`).
fn config_from_args() -> Config {
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut config = Config::default();
    if std::env::args().any(|arg| arg == "--deflate") {
        #[cfg(feature = "deflate")]
        {
            config.deflate = Some(Default::default());
        }
        #[cfg(not(feature = "deflate"))]
        {
            eprintln!("--deflate needs the deflate feature: cargo run --features deflate ...");
            std::process::exit(2);
        }
    }
    config
}

/// The address to listen on: the first argument that is not a flag.
fn address_from_args() -> String {
    std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned())
}
