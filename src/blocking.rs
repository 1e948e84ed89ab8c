//! WebSockets on blocking `std::io` streams (feature `blocking`): a [`Connection`] over any
//! `Read + Write` stream, with the deadlines kept through the stream's timeouts.
//!
//! ```no_run
//! # fn run() -> Result<(), wsmachine::blocking::Error> {
//! let listener = std::net::TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     std::thread::spawn(move || {
//!         let mut ws = wsmachine::blocking::accept(stream?)?;
//!         while let Some(message) = ws.read() {
//!             ws.send(message?)?;
//!         }
//!         Ok::<_, wsmachine::blocking::Error>(())
//!     });
//! }
//! # Ok(()) }
//! ```
//!
//! [`WebSocket::send`] writes before it returns, unless received input is waiting to be read:
//! then the next [`read`](WebSocket::read) writes it before it blocks. The connection's
//! deadlines (handshake, keepalive Ping and its Pong, idle, closing) become the stream's read
//! and write timeouts while it waits, through the function given to
//! [`WebSocket::with_timeout`] ([`set_tcp_timeouts`] already for a `TcpStream`). So a peer
//! that stops reading holds nothing for long: nothing is read while a write waits, the
//! keepalive Ping goes unanswered, and the write ends with [`ErrorKind::Ended`] at
//! [`Config::pong_timeout`]. Output left at the end gets [`Config::close_timeout`] to be
//! taken. Dropping a `WebSocket` drops the stream without a Close; call
//! [`close`](WebSocket::close) first.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub use crate::adapter::{Answer, Error, ErrorKind, IncomingRef};

/// What [`accept_with`] did with a request.
pub type Accepted<S> = crate::adapter::Accepted<WebSocket<S>>;
use crate::frame::CloseCode;
use crate::handshake::{ClientHandshake, Header, Negotiated, Rejection, WsUri};
use crate::{CloseCause, CloseFrame, Closed, Config, Connection, Event, EventRef, Message, Sender};

/// Sets a stream's read and write timeouts (`None`: block): how a `WebSocket` keeps its
/// deadlines while it waits on the stream.
pub type SetTimeout<S> = fn(&S, Option<Duration>) -> io::Result<()>;

/// The [`SetTimeout`] of a `TcpStream`: sets its read and its write timeout.
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let stream = std::net::TcpStream::connect(listener.local_addr()?)?;
/// wsmachine::blocking::set_tcp_timeouts(&stream, Some(std::time::Duration::from_secs(1)))?;
/// assert_eq!(stream.write_timeout()?, Some(std::time::Duration::from_secs(1)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_tcp_timeouts(stream: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)
}

/// The size of the first read. Each read that fills the buffer doubles it, up to
/// [`MAX_READ_LEN`]: a quiet connection (most of a server's, each on a thread blocked in
/// `read`) holds 4 KiB, and a busy one soon reads 64 KiB at a time.
const FIRST_READ_LEN: usize = 4 * 1024;
/// The largest read.
const MAX_READ_LEN: usize = 64 * 1024;
/// How long the last output may take after a deadline ended the connection.
const LAST_TRY: Duration = Duration::from_millis(100);

/// A WebSocket over a blocking stream: a [`Connection`] with the I/O and the clock attached.
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    connection: Connection,
    set_timeout: Option<SetTimeout<S>>,
    input: Vec<u8>,
    output: Vec<u8>,
    read_closed: bool,
    /// The peer's Close, once it came.
    peer_close: Option<CloseFrame>,
    ended: Option<Closed>,
    shut_down: bool,
    end_reported: bool,
    /// After the end, when output the peer is not taking is given up.
    linger_until: Option<Instant>,
    /// The timeout the stream has now (`None`: not set yet; `Some(None)`: it blocks).
    timeout_set: Option<Option<Duration>>,
}

/// Whether the stream's timeout (`set`) serves for a wait that should end after `wanted`,
/// sparing a system call: it may end early, by at most half (the caller then waits again),
/// but not more than a millisecond late, and it never blocks when a deadline is due.
fn timeout_is_close_enough(set: Option<Option<Duration>>, wanted: Option<Duration>) -> bool {
    match (set, wanted) {
        (None, _) | (Some(None), Some(_)) => false,
        (Some(set), None) => set.is_none(),
        (Some(Some(set)), Some(wanted)) => {
            set <= wanted + Duration::from_millis(1) && set >= wanted / 2
        }
    }
}

/// Accepts a WebSocket on `stream` with the default [`Config`]: reads the opening handshake,
/// answers it with the 101 and returns. A plain HTTP request is answered with 426 and reported
/// as [`ErrorKind::NotWebSocket`].
pub fn accept(stream: TcpStream) -> Result<WebSocket<TcpStream>, Error> {
    match accept_with(stream, Config::default(), |_| Answer::accept())? {
        Accepted::WebSocket(ws) => Ok(ws),
        Accepted::Http(request) => Err(Error::from(ErrorKind::NotWebSocket(*request))),
        Accepted::Rejected(_) => unreachable!("the callback accepts every upgrade"),
    }
}

/// Accepts a WebSocket on `stream` with `config`, letting `decide` see the request first (see
/// [`crate::tokio::accept_with`] for an example of a callback).
pub fn accept_with(
    stream: TcpStream,
    config: Config,
    decide: impl FnOnce(IncomingRef<'_>) -> Answer,
) -> Result<Accepted<TcpStream>, Error> {
    stream.set_nodelay(true)?;
    let connection = Connection::server(config, Instant::now());
    let mut ws = WebSocket::new(stream, connection).with_timeout(set_tcp_timeouts);
    let request = match ws.next_handshake_event()? {
        Event::Request(upgrade) => match decide(IncomingRef::WebSocket(&upgrade)) {
            Answer::Accept { protocol } => {
                let mut accept = upgrade.accept();
                if let Some(protocol) = &protocol {
                    accept = accept.protocol(protocol);
                }
                ws.connection.accept(accept)?;
                ws.flush()?;
                return Ok(Accepted::WebSocket(ws));
            }
            Answer::Reject(response) => {
                ws.connection.reject(&response)?;
                ws.finish()?;
                return Ok(Accepted::Rejected(upgrade));
            }
        },
        Event::HttpRequest(request) => request,
        other => unreachable!("a server's first event is a request, not {other:?}"),
    };
    let response = match decide(IncomingRef::Http(&request)) {
        Answer::Reject(response) => response,
        Answer::Accept { .. } => Rejection::new(426)
            .with_header(Header::new("Upgrade", "websocket").expect("a valid header"))
            .with_header(Header::new("Sec-WebSocket-Version", "13").expect("a valid header")),
    };
    ws.connection.reject(&response)?;
    ws.finish()?;
    Ok(Accepted::Http(request))
}

/// Opens a WebSocket to `url` (`ws://host[:port]/path`) over TCP with the default [`Config`].
pub fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    let uri = WsUri::parse(url).map_err(|error| Error::from(ErrorKind::Url(error.to_string())))?;
    if uri.is_secure() {
        return Err(Error::from(ErrorKind::Url(format!(
            "{url}: wss:// needs a TLS stream (see connect_with)"
        ))));
    }
    let stream = TcpStream::connect((uri.host(), uri.port()))?;
    stream.set_nodelay(true)?;
    let ws = WebSocket::handshake(
        stream,
        ClientHandshake::for_uri(uri),
        Config::default(),
        Some(set_tcp_timeouts),
    )?;
    Ok(ws)
}

/// Opens a WebSocket over a stream the caller brings, with `handshake` and `config`; its
/// deadlines apply through `set_timeout` when given.
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use wsmachine::handshake::ClientHandshake;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let address = listener.local_addr()?;
/// let server = std::thread::spawn(move || {
///     let mut ws = wsmachine::blocking::accept(listener.accept()?.0)?;
///     while let Some(message) = ws.read() {
///         ws.send(message?)?;
///     }
///     Ok::<_, wsmachine::blocking::Error>(())
/// });
/// let stream = TcpStream::connect(address)?;
/// let handshake = ClientHandshake::new(&format!("ws://{address}/"))?;
/// let set_timeout = Some(wsmachine::blocking::set_tcp_timeouts as wsmachine::blocking::SetTimeout<TcpStream>);
/// let mut ws = wsmachine::blocking::connect_with(stream, handshake, Default::default(), set_timeout)?;
/// ws.send("hi".into())?;
/// assert_eq!(ws.read().transpose()?, Some("hi".into()));
/// ws.close(wsmachine::frame::CloseCode::NORMAL, "")?;
/// server.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect_with<S: Read + Write>(
    stream: S,
    handshake: ClientHandshake,
    config: Config,
    set_timeout: Option<SetTimeout<S>>,
) -> Result<WebSocket<S>, Error> {
    WebSocket::handshake(stream, handshake, config, set_timeout)
}

impl<S: Read + Write> WebSocket<S> {
    /// A WebSocket over `io` driven by `connection`, in whatever state it is (a handshake under
    /// way, or opened elsewhere). Without [`with_timeout`](WebSocket::with_timeout), reads
    /// block until data comes and the deadlines act only between them.
    pub fn new(io: S, connection: Connection) -> WebSocket<S> {
        WebSocket {
            io,
            connection,
            set_timeout: None,
            input: Vec::new(),
            output: Vec::new(),
            read_closed: false,
            peer_close: None,
            ended: None,
            shut_down: false,
            end_reported: false,
            linger_until: None,
            timeout_set: None,
        }
    }

    /// Keeps the deadlines with `set_timeout`, which sets the stream's read and write timeouts
    /// ([`set_tcp_timeouts`], or the same on the stream inside a TLS one).
    #[must_use]
    pub fn with_timeout(mut self, set_timeout: SetTimeout<S>) -> WebSocket<S> {
        self.set_timeout = Some(set_timeout);
        self
    }

    fn handshake(
        stream: S,
        handshake: ClientHandshake,
        config: Config,
        set_timeout: Option<SetTimeout<S>>,
    ) -> Result<WebSocket<S>, Error> {
        let connection = Connection::client(handshake, config, Instant::now())
            .map_err(|error| Error::from(ErrorKind::Url(error.to_string())))?;
        let mut ws = WebSocket::new(stream, connection);
        ws.set_timeout = set_timeout;
        match ws.next_handshake_event()? {
            Event::Accepted(_) => Ok(ws),
            other => unreachable!("a client's first event is the server's answer, not {other:?}"),
        }
    }

    /// The connection underneath, for its getters.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The peer's Close (its code and reason), once it came.
    #[must_use]
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// What the handshake negotiated.
    #[must_use]
    pub fn negotiated(&self) -> &Negotiated {
        self.connection.negotiated()
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The next message (or piece of one), Ping or Pong from the peer; `None` once the
    /// connection is over: after the peer's Close (see [`close_frame`](WebSocket::close_frame))
    /// the reply is written before `None` comes. An error ends the connection (`None`
    /// follows).
    pub fn read(&mut self) -> Option<Result<Message, Error>> {
        loop {
            match self.next_event()? {
                Ok(event) => match Message::from_event(event) {
                    // The peer's Close ends the stream, once the reply is written.
                    Ok(Message::Close(frame)) => self.peer_close = frame,
                    Ok(message) => return Some(Ok(message)),
                    Err(_) => {}
                },
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// The next message borrowed rather than owned, with the [`Sender`] to answer it; what is
    /// queued through the `Sender` is written by the next `read`, `read_ref`, `send`, `flush`
    /// or `close`.
    #[allow(clippy::type_complexity)]
    pub fn read_ref(&mut self) -> Option<Result<(EventRef<'_>, &mut Sender), Error>> {
        loop {
            match self.connection.poll_lendable() {
                Some(Ok(lendable)) if lendable.is_end() => {
                    self.ended = self.connection.closed();
                    continue;
                }
                Some(Ok(lendable)) => return Some(Ok(self.connection.lend(lendable))),
                Some(Err(error)) => return Some(Err(self.after_protocol_error(error))),
                None => {}
            }
            match self.drive() {
                Ok(true) => {}
                Ok(false) => return self.end().map(Err),
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// Sends a message (or Ping, Pong, Close); written before it returns unless received input
    /// waits to be read (see the module docs).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.connection.sender().send(message)?;
        if self.connection.buffered_input() == 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends a [`PreparedMessage`](crate::PreparedMessage) as [`send`](WebSocket::send) sends
    /// a message: framed (and compressed, where the connection keeps no context) once for
    /// every connection it goes to. A thread per connection writes it from its own buffer:
    /// copying a frame costs less than a second system call, and this adapter's connections
    /// are not many; the tokio adapter writes the shared frame itself.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wsmachine::PreparedMessage;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let url = format!("ws://{}/", listener.local_addr()?);
    /// let news = Arc::new(PreparedMessage::text("market open"));
    /// let serving = std::thread::spawn({
    ///     let news = Arc::clone(&news);
    ///     move || -> Result<(), wsmachine::blocking::Error> {
    ///         let mut ws = wsmachine::blocking::accept(listener.accept()?.0)?;
    ///         ws.send_prepared(&news)
    ///     }
    /// });
    /// let mut client = wsmachine::blocking::connect(&url)?;
    /// assert_eq!(client.read().unwrap()?, wsmachine::Message::from("market open"));
    /// serving.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_prepared(&mut self, message: &crate::PreparedMessage) -> Result<(), Error> {
        self.connection.sender().send_prepared(message)?;
        if self.connection.buffered_input() == 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes everything queued. While the peer takes nothing the deadlines run (see the
    /// module docs); output given up at one is an [`ErrorKind::Ended`].
    pub fn flush(&mut self) -> Result<(), Error> {
        self.output.clear();
        if self.connection.poll_transmit(&mut self.output) == 0 {
            return Ok(());
        }
        let mut written = 0;
        while written < self.output.len() {
            self.set_timeouts()?;
            let timed_out = match self.io.write(&self.output[written..]) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(wrote) => {
                    written += wrote;
                    // A peer that takes a trickle keeps each write short of the timeout:
                    // the deadlines still run.
                    written < self.output.len() && self.deadline_passed()
                }
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => true,
                    io::ErrorKind::Interrupted => false,
                    _ => return Err(error.into()),
                },
            };
            if timed_out {
                // A keepalive Ping this queues goes out after these bytes.
                self.connection.handle_timeout(Instant::now());
                if let Some(closed) = self.output_given_up() {
                    // Reported once; after that the rest is simply dropped.
                    if std::mem::replace(&mut self.end_reported, true) {
                        return Ok(());
                    }
                    return Err(Error::from(ErrorKind::Ended(closed)));
                }
            }
        }
        self.io.flush()?;
        Ok(())
    }

    /// Sets the stream's timeouts to the next deadline: the connection's, or after the end
    /// the linger of the output that is left.
    fn set_timeouts(&mut self) -> Result<(), Error> {
        let mut deadline = self.connection.poll_timeout();
        if self.connection.should_close_transport() {
            // After a deadline (no linger) a moment for what the socket still takes. Armed
            // with or without socket timeouts: a stream without them still gives up.
            let linger = self.connection.output_linger().max(LAST_TRY);
            let until = *self.linger_until.get_or_insert_with(|| Instant::now() + linger);
            deadline = Some(deadline.map_or(until, |at| at.min(until)));
        }
        let Some(set_timeout) = self.set_timeout else { return Ok(()) };
        let timeout = deadline.map(|deadline| {
            // A zero timeout is an error for a socket; a deadline past waits 1 µs.
            deadline.saturating_duration_since(Instant::now()).max(Duration::from_micros(1))
        });
        if timeout_is_close_enough(self.timeout_set, timeout) {
            return Ok(());
        }
        set_timeout(&self.io, timeout)?;
        self.timeout_set = Some(timeout);
        Ok(())
    }

    /// Whether the connection's next deadline, or the linger after the end, has passed.
    fn deadline_passed(&self) -> bool {
        let now = Instant::now();
        self.connection.poll_timeout().is_some_and(|deadline| now >= deadline)
            || self.linger_until.is_some_and(|until| now >= until)
    }

    /// After the end, whether to stop writing to a peer that takes nothing: once the linger
    /// has passed (a moment after a deadline ended the connection, else the close deadline).
    /// `Some` with how the connection ended.
    fn output_given_up(&self) -> Option<Closed> {
        if !self.connection.should_close_transport() {
            return None;
        }
        let linger_over = self.linger_until.is_some_and(|until| Instant::now() >= until);
        linger_over.then(|| {
            self.connection.closed().unwrap_or(Closed {
                code: CloseCode::ABNORMAL_CLOSURE,
                clean: false,
                cause: CloseCause::TransportEnded,
            })
        })
    }

    /// Closes cleanly (§7.1.2): sends the Close, reads until the peer's (dropping messages) or
    /// the close deadline, and shuts the transport down as §7.1.1 says.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.connection.is_open() {
            self.connection.sender().close(code, reason)?;
        }
        while let Some(next) = self.read() {
            next?;
        }
        Ok(())
    }

    fn next_handshake_event(&mut self) -> Result<Event, Error> {
        match self.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(error)) => Err(error),
            None => {
                Err(Error::from(ErrorKind::Ended(self.connection.closed().unwrap_or(Closed {
                    code: CloseCode::ABNORMAL_CLOSURE,
                    clean: false,
                    cause: CloseCause::TransportEnded,
                }))))
            }
        }
    }

    fn finish(&mut self) -> Result<(), Error> {
        while self.next_event().is_some() {}
        Ok(())
    }

    /// The next event, driving the I/O and the clock until one comes; `None` once over.
    fn next_event(&mut self) -> Option<Result<Event, Error>> {
        loop {
            match self.connection.poll_event() {
                Some(Ok(Event::Closed(closed))) => {
                    self.ended = Some(closed);
                    continue;
                }
                Some(Ok(event)) => return Some(Ok(event)),
                Some(Err(error)) => return Some(Err(self.after_protocol_error(error))),
                None => {}
            }
            match self.drive() {
                Ok(true) => {}
                Ok(false) => return self.end().map(Err),
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// A protocol error, after the Close it calls for is written, so that a caller who stops
    /// at the error has sent what the connection owes (a write error changes nothing then).
    fn after_protocol_error(&mut self, error: crate::ProtocolError) -> Error {
        let _ = self.flush();
        Error::from_protocol(error)
    }

    /// After the end: an unclean end is an error once, unless its error was returned already.
    fn end(&mut self) -> Option<Error> {
        let closed = self.ended?;
        if closed.clean || self.end_reported {
            return None;
        }
        self.end_reported = true;
        match closed.cause {
            CloseCause::ProtocolError | CloseCause::HandshakeFailed => None,
            _ => Some(Error::from(ErrorKind::Ended(closed))),
        }
    }

    /// One round of I/O: write the output; shut down if over; else read once, with the next
    /// deadline as the timeout, and give the connection the time. `false` once over.
    fn drive(&mut self) -> Result<bool, Error> {
        self.flush()?;
        if self.connection.should_close_transport() {
            // A deadline that passed during the write ended it before its event was read.
            self.ended = self.ended.or(self.connection.closed());
            if !self.shut_down {
                self.shut_down = true;
                let _ = self.io.flush();
            }
            return Ok(false);
        }
        if self.read_closed {
            // Only the clock moves the connection now: wait for its next deadline.
            if let Some(deadline) = self.connection.poll_timeout() {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            }
            self.connection.handle_timeout(Instant::now());
            return Ok(true);
        }
        self.set_timeouts()?;
        if self.input.is_empty() {
            self.input.resize(FIRST_READ_LEN, 0);
        }
        match self.io.read(&mut self.input) {
            Ok(0) => {
                self.read_closed = true;
                self.connection.receive_eof();
            }
            Ok(read) => {
                self.connection.receive(&self.input[..read]);
                if read == self.input.len() && read < MAX_READ_LEN {
                    // More was waiting than the buffer holds: read more at a time.
                    self.input.resize(2 * read, 0);
                }
            }
            Err(error)
                if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                // Nothing arrived before a deadline: the connection is quiet, and its
                // buffers (the output is written) go back until it is not.
                self.input = Vec::new();
                self.output = Vec::new();
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
        self.connection.handle_timeout(Instant::now());
        Ok(true)
    }
}
