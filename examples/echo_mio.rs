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
//!   non-blocking socket, its [`Connection`] (whose deadlines are kept in 4-byte [`Tick`]s,
//!   tenths of a second), and the output the socket has not taken yet, boxed because it is
//!   rare: about 300 bytes in all, and no heap, for an idle connection.
//! - **Reads** go into one 256 KiB buffer shared by all connections, and are repeated until
//!   a read comes back short (mio is edge-triggered, and a short read drained the socket, so
//!   the read that would only say `WouldBlock` is saved), except when the event says the
//!   peer closed or reset: then reads go on to the end, which a FIN that came with the last
//!   data would otherwise hide (no later event reports it). The connection reads each read in place
//!   ([`Connection::receive_in_place`]): every message is unmasked and echoed from where the
//!   read put it; only a frame cut off by the end of the read is copied into the connection.
//! - **Writes** happen right after each read. The echoes are queued in one output buffer that
//!   the loop lends to the connection being read ([`Connection::lend_output_buffer`]) and
//!   takes back with the output; what the socket does not take stays with the connection as
//!   its pending output, and only then is `WRITABLE` interest registered, to be dropped again
//!   once it is all written. A connection whose output is written holds no output buffer.
//!   While more than [`HIGH_WATER`] bytes are pending, reading pauses (a peer that sends but
//!   does not read cannot grow our memory); it resumes once the socket takes the output.
//! - **Timers** are one sweep a second over every connection (as uWebSockets does), so no
//!   connection keeps a timer entry: the sweep gives each connection the time
//!   ([`Connection::handle_timeout`]), and the connection acts on its own deadlines (the
//!   handshake, the keepalive Ping and its Pong, the closing handshake). They are as precise
//!   as the sweep, a second. A connection whose last bytes the socket does not take in
//!   time is dropped: within the close deadline of its end, or at the next sweep when a
//!   deadline ended it ([`Connection::output_linger`]).
//! - **Removal**: once `should_close_transport()` and the output is all written, or on a
//!   socket error or a passed deadline, the socket is deregistered and dropped.
//! - **Caps**: at most 10,000 connections are open at once, 256 from one address
//!   (`--max-connections=N`, `--max-per-address=N`); one over a cap is closed as it is
//!   accepted, so no single peer can take every place.
//! - **Memory**: a connection that was quiet for a whole sweep with its output written has
//!   its buffers freed (`release_buffers()`): the receive buffer exists only while a frame is
//!   cut across reads anyway.
//!
//! A bad peer ends its own connection, never the server.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use wsmachine::handshake::{Header, Rejection};
use wsmachine::{
    Config, Connection, DefaultRandom, Event, EventRef, ProtocolError, Sender, Timestamp,
};

#[path = "shared/admission.rs"]
pub(crate) mod admission;
#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

/// How often every connection's deadline is checked.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Pending output above which a connection stops reading until the socket takes more.
const HIGH_WATER: usize = 1024 * 1024;
const LISTENER: Token = Token(0);
/// The read buffer every connection shares.
const READ_BUFFER_LEN: usize = 256 * 1024;

fn main() -> io::Result<()> {
    let args = args::Args::from_env();
    let address: SocketAddr = args.address.parse().map_err(|error| {
        io::Error::new(ErrorKind::InvalidInput, format!("{}: {error}", args.address))
    })?;
    let mut server = Server::new(address, args.config, args.limits)?;
    eprintln!("echo_mio listening on ws://{}", server.listener.local_addr()?);
    server.run()
}

/// A time in tenths of a second since the server started: 4 bytes, good for 13 years. The
/// connections keep their deadlines in it, which keeps them small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tick(u32);

impl Tick {
    /// Not yet: a time that never comes.
    const NEVER: Tick = Tick(u32::MAX);

    fn since(start: Instant) -> Tick {
        Tick(u32::try_from(start.elapsed().as_millis() / 100).unwrap_or(u32::MAX))
    }
}

impl Timestamp for Tick {
    fn saturating_add(self, duration: Duration) -> Tick {
        // Rounded up: a deadline never comes before its time.
        let ticks = duration.as_millis().div_ceil(100);
        Tick(self.0.saturating_add(u32::try_from(ticks).unwrap_or(u32::MAX)))
    }
}

/// A connection whose deadlines are kept in ticks.
type TickConnection = Connection<DefaultRandom, Tick>;

/// The event loop's state (`pub(crate)` for `tests/echo_allocations.rs`, which runs it).
#[derive(Debug)]
pub(crate) struct Server {
    poll: Poll,
    pub(crate) listener: TcpListener,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    start: Instant,
    /// When the next sweep over the deadlines is due.
    next_sweep: Instant,
    /// Where every read goes.
    scratch: Vec<u8>,
    /// The output buffer lent to the connection being read; empty between reads.
    out: Vec<u8>,
    config: Config,
    /// The caps on connections open at once, in all and from one address.
    admission: admission::Admission,
}

/// What to do with a connection after handling something.
enum Next {
    Keep,
    Remove,
}

impl Server {
    pub(crate) fn new(
        address: SocketAddr,
        config: Config,
        limits: admission::Limits,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::from_std(listen::listen(&address.to_string(), true)?);
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let start = Instant::now();
        Ok(Server {
            poll,
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            start,
            next_sweep: start + SWEEP_INTERVAL,
            scratch: vec![0; READ_BUFFER_LEN],
            out: Vec::with_capacity(READ_BUFFER_LEN),
            config,
            admission: admission::Admission::new(limits),
        })
    }

    pub(crate) fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.next_sweep.saturating_duration_since(Instant::now());
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            let now = Tick::since(self.start);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(now),
                    Token(token) => {
                        let slot = token - 1;
                        let result = match self.conns.get_mut(slot).and_then(Option::as_mut) {
                            Some(conn) if event.is_writable() && !event.is_readable() => {
                                conn.on_writable(&mut self.scratch, &mut self.out)
                            }
                            Some(conn) => {
                                // A FIN or reset seen with the data: read on to the end.
                                let to_the_end = event.is_read_closed() || event.is_error();
                                conn.on_readable(&mut self.scratch, &mut self.out, to_the_end)
                            }
                            None => continue,
                        };
                        self.settle(slot, result, now);
                    }
                }
            }
            if Instant::now() >= self.next_sweep {
                self.sweep();
            }
        }
    }

    /// Accepts every waiting connection (the listener is edge-triggered too).
    fn accept_all(&mut self, now: Tick) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if let Err(error) = self.add(stream, now) {
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

    fn add(&mut self, mut stream: TcpStream, now: Tick) -> io::Result<()> {
        let address = stream.peer_addr()?.ip();
        let Some(ticket) = self.admission.admit(address) else {
            return Ok(()); // over a cap: the socket is dropped, closed at once
        };
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
        self.conns[slot] = Some(Conn {
            stream,
            connection: Connection::server(self.config, now),
            pending: None,
            writable_interest: false,
            received: false,
            linger_until: Tick::NEVER,
            _ticket: ticket,
        });
        // Bytes may already be waiting; edge-triggered readiness may not report them again.
        let conn = self.conns[slot].as_mut().expect("just added");
        let result = conn.on_readable(&mut self.scratch, &mut self.out, true);
        self.settle(slot, result, now);
        Ok(())
    }

    /// After a connection handled something: removes it, or updates its interest.
    fn settle(&mut self, slot: usize, result: io::Result<()>, now: Tick) {
        let Some(conn) = self.conns[slot].as_mut() else { return };
        match result.and_then(|()| conn.settle(self.poll.registry(), Token(slot + 1), now)) {
            Ok(Next::Keep) => {}
            Ok(Next::Remove) => self.remove(slot),
            Err(error) => {
                let peer =
                    conn.stream.peer_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
                eprintln!("connection {peer}: {error}");
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

    /// Gives every connection the time, and frees the buffers of those that were quiet
    /// since the last sweep.
    fn sweep(&mut self) {
        self.next_sweep = Instant::now() + SWEEP_INTERVAL;
        let now = Tick::since(self.start);
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else { continue };
            let result = conn.on_sweep(now, &mut self.out);
            self.settle(slot, result, now);
        }
    }
}

/// The output of a connection that the socket has not taken yet.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    /// How much of `bytes` is written.
    written: usize,
}

/// One connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    connection: TickConnection,
    /// Output the socket has not taken; only under backpressure.
    pending: Option<Box<Pending>>,
    writable_interest: bool,
    /// Something arrived since the last sweep.
    received: bool,
    /// Once the transport is due to close, until when its last bytes may wait for the peer
    /// (`Connection::output_linger`); `Tick::NEVER` before.
    linger_until: Tick,
    /// Its place under the caps, given back when it is removed.
    _ticket: admission::Ticket,
}

impl Conn {
    fn pending(&self) -> usize {
        self.pending.as_ref().map_or(0, |pending| pending.bytes.len() - pending.written)
    }

    /// Reads until `WouldBlock`, the end of the transport, or too much pending output; the
    /// echoes go out after each read. A short read counts as `WouldBlock` unless `to_the_end`
    /// (the peer closed or reset, or nothing is known).
    fn on_readable(
        &mut self,
        scratch: &mut [u8],
        out: &mut Vec<u8>,
        to_the_end: bool,
    ) -> io::Result<()> {
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
                    self.received = true;
                    if self.pending.is_none() {
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
                    if read < scratch.len() && !to_the_end {
                        // A short read drained the socket: with edge-triggered readiness, more
                        // data (or a FIN) makes a new event, so no read that would only block
                        // is needed.
                        break;
                    }
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
            self.on_readable(scratch, out, true)?;
        }
        Ok(())
    }

    /// The sweep: the connection is given the time and acts on its deadlines (what that
    /// queues, a keepalive Ping or a Close, is written); one quiet since the last sweep with
    /// nothing pending gives its buffers back; one whose last bytes were not taken in time is
    /// dropped.
    fn on_sweep(&mut self, now: Tick, out: &mut Vec<u8>) -> io::Result<()> {
        if self.pending.is_none() && !std::mem::take(&mut self.received) {
            self.connection.release_buffers();
        }
        if now >= self.linger_until {
            return Err(io::Error::new(ErrorKind::TimedOut, "last bytes not taken in time"));
        }
        self.connection.handle_timeout(now);
        // A deadline may have ended the connection: its `Closed` is read, nothing else is.
        while let Some(next) = self.connection.poll_event_ref() {
            if let Some(event) = echo_message(next) {
                handle_other(&mut self.connection, event);
            }
        }
        self.write_out(out)
    }

    /// Takes what the connection queued and writes all pending output until it is written or
    /// the socket would block. Once it is all written, the larger buffer goes back to the
    /// loop as `out`, and the connection keeps none.
    fn write_out(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut pending = match self.pending.take() {
            Some(pending) => *pending,
            None => Pending { bytes: Vec::new(), written: 0 },
        };
        self.connection.poll_transmit(&mut pending.bytes);
        let result = loop {
            if pending.written == pending.bytes.len() {
                break Ok(());
            }
            match self.stream.write(&pending.bytes[pending.written..]) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(wrote) => pending.written += wrote,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => break Err(error),
            }
        };
        if pending.written == pending.bytes.len() {
            pending.bytes.clear();
            if pending.bytes.capacity() > out.capacity() {
                *out = pending.bytes;
            }
        } else {
            if pending.written >= HIGH_WATER {
                pending.bytes.drain(..pending.written);
                pending.written = 0;
            }
            self.pending = Some(Box::new(pending));
        }
        result
    }

    /// Decides whether the connection is over, and registers `WRITABLE` interest only while
    /// output is pending.
    fn settle(&mut self, registry: &Registry, token: Token, now: Tick) -> io::Result<Next> {
        let over = self.connection.should_close_transport();
        if over && self.linger_until == Tick::NEVER {
            self.linger_until = now.saturating_add(self.connection.output_linger());
        }
        let pending = self.pending.is_some();
        if !pending && over {
            return Ok(Next::Remove);
        }
        if pending != self.writable_interest {
            let interest =
                if pending { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            registry.reregister(&mut self.stream, token, interest)?;
            self.writable_interest = pending;
        }
        Ok(Next::Keep)
    }
}

/// Echoes a message from where it lies; any other event is returned for [`handle_other`].
/// A send fails only once a Close is under way, when the echo no longer matters.
fn echo_message(next: Result<(EventRef<'_>, &mut Sender), ProtocolError>) -> Option<Event> {
    match next {
        Ok((EventRef::Text(text), sender)) => {
            let _closing = sender.send_text(text);
            None
        }
        Ok((EventRef::Binary(data), sender)) => {
            let _closing = sender.send_binary(data);
            None
        }
        Ok((EventRef::Other(event), _)) => Some(event),
        Ok(_) => None,
        Err(error) => {
            eprintln!("peer broke the protocol: {error}");
            None
        }
    }
}

/// Accepts a WebSocket request, answers any other HTTP request with 426.
fn handle_other(connection: &mut TickConnection, event: Event) {
    let answered = match event {
        // An origin policy would look at request.request().origin() here.
        Event::Request(request) => connection.accept(request.accept()),
        Event::HttpRequest(_) => connection.reject(
            &Rejection::new(426)
                .with_header(Header::new("Sec-WebSocket-Version", "13").expect("valid"))
                .with_body("this is a WebSocket echo server\n"),
        ),
        _ => Ok(()),
    };
    if let Err(error) = answered {
        eprintln!("cannot answer the handshake: {error}");
    }
}
