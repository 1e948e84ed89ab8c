//! A chat in the browser: the page and its WebSocket on one port, messages pushed to every
//! open page as they arrive.
//!
//! ```text
//! cargo run --release --features deflate --example chat              # http://127.0.0.1:8080
//! cargo run --release --features deflate --example chat -- 0.0.0.0:8080 --origin http://chat.example
//! cargo run --release --features deflate,http2 --example chat -- --tls  # https://127.0.0.1:8080
//! ```
//!
//! Open the address in two browser windows and type. `GET /` serves the page (plain HTTP: the
//! handshake layer tells it from an upgrade); its script opens a WebSocket to `/chat` offering
//! the subprotocol `chat`. Every text message a page sends is relayed to every connected page,
//! unchanged inside a JSON envelope; the page also shows how many are connected and the round
//! trip of the ping the server sends every few seconds, measured by this server, which owns
//! the clock. Without `--features deflate` it runs the same, without permessage-deflate.
//!
//! # Origins
//!
//! A browser names the page that opens a WebSocket in its `Origin` header; a server that does
//! not check it lets any site's script join on its visitors' behalf (RFC 6455 §10.2). By
//! default the chat admits only its own origin: `http://` followed by the `Host` the request
//! was sent to, so a page served by this server at whatever address it was reached by. Other
//! origins get 403. Behind a proxy or TLS terminator the browser's origin differs; then name
//! it:
//!
//! - `--origin URL` admits exactly the origins given (repeatable), instead of the default;
//! - `--any-origin` admits every origin (only for trusted networks).
//!
//! Requests without `Origin` are not from browser pages and are admitted.
//!
//! # HTTPS and HTTP/2
//!
//! `--tls` (feature `http2`) serves the page and the chat over TLS on the same address, with a
//! certificate made at start for `localhost` and `127.0.0.1` (a browser warns about it), ALPN
//! `h2` and `http/1.1`, and HTTP/2's extended CONNECT enabled (RFC 8441): a browser that
//! speaks it opens the chat's WebSocket as a stream of the HTTP/2 connection that loaded the
//! page, with no TCP or TLS handshake of its own. The origin policy then expects `https://`.
//! hyper does the HTTP and the handshake; the room is the same (`https.rs`).
//!
//! # Structure
//!
//! `room.rs` is the chat itself, sans-IO like the crate: it owns every [`Connection`]
//! (wsmachine's) and their unsent output, and is told the bytes that arrived and the time.
//! This file moves bytes between it and the sockets: one thread, one `mio::Poll`, every socket
//! registered for reading and writing (edge-triggered, so a socket reports only changes), and
//! a one-second tick for the room's pings and deadlines. After every read, the room's touched
//! connections are written; a connection the room has finished with is closed.
//!
//! [`Connection`]: wsmachine::Connection

#[path = "../shared/admission.rs"]
mod admission;
#[cfg(feature = "http2")]
mod https;
#[path = "../shared/listen.rs"]
mod listen;
mod room;

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use room::{chat_config, chat_config_with_preset, Options, Room};

/// How often the room's pings and deadlines are looked at.
const TICK: Duration = Duration::from_secs(1);
/// Open sockets at most (page loads and handshakes included), in all and from one address
/// (so that one peer cannot take every place); more are closed at once.
const LIMITS: admission::Limits = admission::Limits { total: 1024, per_address: 32 };
const LISTENER: Token = Token(0);

fn main() {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!(
                "{error}\nusage: chat [ADDRESS] [--origin URL]... [--any-origin] \
                 [--deflate-preset NAME] [--tls]"
            );
            std::process::exit(2);
        }
    };
    if let Err(error) = run(options) {
        eprintln!("chat: {error}");
        std::process::exit(1);
    }
}

fn run(options: Options) -> io::Result<()> {
    let config = match options.deflate_preset.as_deref() {
        None => chat_config(),
        preset => chat_config_with_preset(preset)
            .map_err(|error| io::Error::new(ErrorKind::InvalidInput, error))?,
    };
    let address: SocketAddr = options.address.parse().map_err(|error| {
        io::Error::new(ErrorKind::InvalidInput, format!("{}: {error}", options.address))
    })?;
    if options.tls {
        #[cfg(feature = "http2")]
        return https::run(address, Room::new(config, options.origins));
        #[cfg(not(feature = "http2"))]
        return Err(io::Error::new(ErrorKind::Unsupported, "--tls needs --features http2"));
    }
    let poll = Poll::new()?;
    let mut listener = TcpListener::from_std(listen::listen(&address.to_string(), true)?);
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    eprintln!(
        "chat listening on http://{} (origins: {:?})",
        listener.local_addr()?,
        options.origins
    );
    let mut server = Server {
        poll,
        listener,
        sockets: HashMap::new(),
        admission: admission::Admission::new(LIMITS),
        room: Room::new(config, options.origins),
        next_id: 0,
        scratch: vec![0; 64 * 1024],
        touched: Vec::new(),
    };
    server.run()
}

/// The sockets, and the room they talk to.
#[derive(Debug)]
struct Server {
    poll: Poll,
    listener: TcpListener,
    /// By id, which is also the socket's mio token; ids are never reused.
    sockets: HashMap<u64, (TcpStream, admission::Ticket)>,
    admission: admission::Admission,
    room: Room,
    next_id: u64,
    scratch: Vec<u8>,
    touched: Vec<u64>,
}

impl Server {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + TICK;
        loop {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    Token(token) => {
                        let id = token as u64;
                        if event.is_readable() || event.is_read_closed() {
                            self.read(id);
                        }
                        self.flush_one(id);
                        self.flush();
                    }
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.room.tick(now);
                self.flush();
                next_tick = now + TICK;
            }
        }
    }

    /// Accepts every waiting connection (the listener is edge-triggered too).
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if let Err(error) = self.add(stream) {
                        eprintln!("connection from {peer}: {error}");
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

    fn add(&mut self, mut stream: TcpStream) -> io::Result<()> {
        let Some(ticket) = self.admission.admit(stream.peer_addr()?.ip()) else {
            return Err(io::Error::other("over the connection caps; closed"));
        };
        stream.set_nodelay(true)?;
        self.next_id += 1;
        let id = self.next_id;
        let token = Token(usize::try_from(id).map_err(io::Error::other)?);
        self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.sockets.insert(id, (stream, ticket));
        self.room.connect(id, Instant::now());
        // Bytes may already be waiting; edge-triggered readiness may not report them again.
        self.read(id);
        self.flush();
        Ok(())
    }

    /// Reads until the socket would block or ends, or the room wants no more, handing every
    /// read to the room and writing what it produced, so a fast sender cannot let its relays
    /// pile up unwritten.
    fn read(&mut self, id: u64) {
        loop {
            if !self.room.wants_input(id) {
                return;
            }
            let Some((stream, _)) = self.sockets.get_mut(&id) else { return };
            match stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.room.receive_eof(id, Instant::now());
                    return;
                }
                Ok(read) => {
                    self.room.receive(id, &self.scratch[..read], Instant::now());
                    self.flush();
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    eprintln!("connection {id}: {error}");
                    self.close(id);
                    return;
                }
            }
        }
    }

    /// Writes the output of every connection the room touched, until none is left: closing
    /// one may tell the others a new count.
    fn flush(&mut self) {
        let mut touched = std::mem::take(&mut self.touched);
        loop {
            self.room.take_touched(&mut touched);
            if touched.is_empty() {
                break;
            }
            for &id in &touched {
                self.flush_one(id);
            }
        }
        self.touched = touched;
    }

    /// Writes `id`'s output until the socket would block, and closes it if the room is done
    /// with it.
    fn flush_one(&mut self, id: u64) {
        let Some((stream, _)) = self.sockets.get_mut(&id) else { return };
        loop {
            let pending = self.room.pending(id);
            if pending.is_empty() {
                break;
            }
            match stream.write(pending) {
                Ok(0) => return self.close(id),
                Ok(wrote) => self.room.written(id, wrote),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(id), // the peer is gone
            }
        }
        if self.room.finished(id) {
            self.close(id);
        }
    }

    fn close(&mut self, id: u64) {
        if let Some((mut stream, _ticket)) = self.sockets.remove(&id) {
            let _ = self.poll.registry().deregister(&mut stream);
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.room.remove(id);
    }
}
