//! WebSockets on tokio (feature `tokio`): a [`Connection`] over any
//! `AsyncRead + AsyncWrite + Unpin` stream (TCP, TLS, hyper's upgraded connection,
//! `tokio::io::duplex`), with the deadlines driven by tokio's clock.
//!
//! ```no_run
//! # async fn run() -> Result<(), wsmachine::tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (stream, _) = listener.accept().await?;
//! let mut ws = wsmachine::tokio::accept(stream).await?;
//! while let Some(message) = ws.recv().await {
//!     ws.send(message?).await?; // echo
//! }
//! # Ok(()) }
//! ```
//!
//! # When bytes reach the socket
//!
//! [`WebSocket::send`] writes what is queued before it returns, unless received input is
//! waiting to be read: then the next [`recv`](WebSocket::recv) (which a loop that answers
//! messages calls at once) writes it together with the answers to that input, before it waits
//! for anything. So no message stays queued while the task waits, and a loop that echoes what
//! arrives writes once per read, not once per message. [`feed`](WebSocket::feed) only queues
//! (up to the high-water mark); [`flush`](WebSocket::flush), `recv`, `send` and
//! [`close`](WebSocket::close) write. The answers a connection owes by itself (Pongs, the
//! Close reply, keepalive Pings) are written by whichever of these runs next.
//!
//! While more than the high-water mark waits for a peer that takes nothing, nothing more is
//! read, and a waiting `send` or `flush` keeps the deadlines: the keepalive Ping goes
//! unanswered and the wait ends with [`ErrorKind::Ended`] at [`Config::pong_timeout`].
//!
//! # Cancellation
//!
//! [`recv`](WebSocket::recv) is cancel-safe: all its state lives in the `WebSocket`, and a
//! message is taken from the connection only when `recv` returns it, so a `recv` dropped in
//! `tokio::select!` loses nothing. `send` queues its message when it is called if the output
//! is under the high-water mark, else once it is: dropped while it waits for room, the message
//! was not queued; dropped after, it was (and the next `recv`, `send` or `flush` writes it).
//!
//! # Dropping
//!
//! Dropping a `WebSocket` drops the stream: no Close is sent. Call
//! [`close`](WebSocket::close) first for a clean end (§7.1.2); [`recv`](WebSocket::recv)
//! returning `None` means the connection is over and the transport closed.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use ::tokio::time::Sleep;

#[cfg(feature = "http2")]
pub mod http2;
mod sending;
mod split;
#[cfg(feature = "rustls")]
mod tls;
#[cfg(feature = "hyper")]
mod upgrade;

pub use crate::adapter::{Answer, Error, ErrorKind, IncomingRef};
use sending::{Receiving, Sending};
pub use split::{ReadHalf, WriteHalf};
#[cfg(feature = "rustls")]
pub use tls::Stream;
#[cfg(feature = "hyper")]
pub use upgrade::{upgrade, upgrade_with, Upgraded, Upgrading};

/// What [`accept_with`] did with a request.
pub type Accepted<S> = crate::adapter::Accepted<WebSocket<S>>;

use crate::connection::Lendable;
use crate::frame::CloseCode;
use crate::handshake::{ClientHandshake, Header, Negotiated, Rejection, WsUri};
use crate::{
    CloseCause, CloseFrame, Closed, CommandError, Config, Connection, Event, EventRef, Message,
    PreparedMessage, Sender,
};

/// The size of the read buffer every `WebSocket` on a thread shares.
const READ_BUFFER_LEN: usize = 256 * 1024;
/// Queued output above which [`WebSocket::send`] and [`WebSocket::feed`] wait for the socket.
const DEFAULT_HIGH_WATER: usize = 64 * 1024;
/// The room a busy connection's receive buffer gets for each read straight into it: small, as
/// the buffer is kept until the keepalive deadline. A frame this long or longer is read up to
/// its end instead, in reads of its own (see `Reader::buffer_for_input`).
const DIRECT_READ_LEN: usize = 16 * 1024;
/// Output buffer capacity kept between writes; a larger one is given back once written.
const KEEP_OUTPUT_CAPACITY: usize = 2 * READ_BUFFER_LEN;

thread_local! {
    /// Where every `WebSocket` on the thread reads while it holds no receive buffer: borrowed
    /// only within one poll, so an idle connection holds no read buffer of its own.
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUFFER_LEN].into_boxed_slice());
}

/// The time on tokio's clock (which tests can pause and advance), as the connection keeps it.
fn now() -> Instant {
    ::tokio::time::Instant::now().into_std()
}

/// A WebSocket over a tokio stream: a [`Connection`] with the I/O and the clock attached.
///
/// Read with [`recv`](WebSocket::recv) (or as a `futures` `Stream`), write with
/// [`send`](WebSocket::send) (or as a `Sink`); the connection answers Pings, keeps its
/// deadlines ([`Config`]: handshake, keepalive Ping and its Pong, idle, closing) and ends with
/// `recv` returning `None` once the transport is closed.
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    connection: Connection,
    /// Output taken from the connection and not yet written, from `written` on.
    output: Vec<u8>,
    written: usize,
    /// A frame shared with other connections (a [`PreparedMessage`]), written after `output`
    /// and advanced as it is written.
    shared: Option<bytes::Bytes>,
    /// The sleep until the connection's next deadline (which it keeps: no copy of it here).
    timer: Option<Pin<Box<Sleep>>>,
    /// After the end, when output the peer is not taking is given up (see `poll_linger`).
    linger_until: Option<Instant>,
    high_water: usize,
    /// The stream gave EOF.
    read_closed: bool,
    /// The peer's Close, once it came (boxed: rare, and an idle connection stays small).
    peer_close: Option<Box<CloseFrame>>,
    /// The connection ended: how, once its `Closed` came.
    ended: Option<Closed>,
    /// The transport was shut down after the end.
    shut_down: bool,
    /// An unclean end was reported as an error already.
    end_reported: bool,
    /// A protocol error, returned once the Close it calls for is written.
    pending_error: Option<Error>,
}

/// Accepts a WebSocket on `stream` with the default [`Config`]: reads the client's opening
/// handshake, answers it with the 101, and returns once the response is written. A plain HTTP
/// request is answered with 426 and reported as [`ErrorKind::NotWebSocket`].
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine::tokio::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut ws = wsmachine::tokio::accept(stream).await?;
///         while let Some(message) = ws.recv().await {
///             ws.send(message?).await?;
///         }
///         Ok::<_, wsmachine::tokio::Error>(())
///     });
/// }
/// # }
/// ```
pub fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> impl Future<Output = Result<WebSocket<S>, Error>> {
    // On the heap from the call on, as `accept_with`'s.
    Box::pin(async move {
        match serve_handshake(stream, Config::default(), |_| Answer::accept()).await? {
            Accepted::WebSocket(ws) => Ok(ws),
            Accepted::Http(request) => Err(Error::from(ErrorKind::NotWebSocket(*request))),
            Accepted::Rejected(_) => unreachable!("the callback accepts every upgrade"),
        }
    })
}

/// Accepts a WebSocket on `stream` with `config`, letting `decide` see the request first: its
/// path, `Origin`, offered subprotocols (an [`UpgradeRequest`](crate::handshake::UpgradeRequest)), or a plain HTTP request on
/// the same port, which it answers with [`Answer::Reject`] (a page, say).
///
/// ```no_run
/// # async fn run(stream: ::tokio::net::TcpStream) -> Result<(), wsmachine::tokio::Error> {
/// use wsmachine::handshake::Rejection;
/// use wsmachine::tokio::{Accepted, Answer, IncomingRef};
///
/// let decide = |incoming: IncomingRef| match incoming {
///     IncomingRef::WebSocket(upgrade) if upgrade.request().path() != "/chat" => {
///         Answer::Reject(Rejection::new(404))
///     }
///     IncomingRef::WebSocket(upgrade) if upgrade.protocols().iter().any(|p| p == "chat") => {
///         Answer::accept_protocol("chat")
///     }
///     IncomingRef::WebSocket(_) => Answer::accept(),
///     _ => Answer::Reject(Rejection::new(200).with_body("hello\n")), // plain HTTP
/// };
/// if let Accepted::WebSocket(mut ws) = wsmachine::tokio::accept_with(stream, Default::default(), decide).await? {
///     ws.send("welcome".into()).await?;
/// }
/// # Ok(()) }
/// ```
pub fn accept_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: Config,
    decide: impl FnOnce(IncomingRef<'_>) -> Answer,
) -> impl Future<Output = Result<Accepted<S>, Error>> {
    // The handshake, its arguments included, lives on the heap from the call on: the
    // caller's task, whose size is that of its largest state, holds a pointer for it and
    // little more than the open WebSocket once it is idle (see docs/benchmarks.md).
    Box::pin(serve_handshake(stream, config, decide))
}

async fn serve_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: Config,
    decide: impl FnOnce(IncomingRef<'_>) -> Answer,
) -> Result<Accepted<S>, Error> {
    let mut ws = WebSocket::new(stream, Connection::server(config, now()));
    let request = match ws.next_handshake_event().await? {
        Event::Request(upgrade) => match decide(IncomingRef::WebSocket(&upgrade)) {
            Answer::Accept { protocol } => {
                let mut accept = upgrade.accept();
                if let Some(protocol) = &protocol {
                    accept = accept.protocol(protocol);
                }
                ws.connection.accept(accept)?;
                ws.flush().await?;
                ws.release_output();
                return Ok(Accepted::WebSocket(ws));
            }
            Answer::Reject(response) => {
                ws.connection.reject(&response)?;
                ws.finish().await?;
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
    ws.finish().await?;
    Ok(Accepted::Http(request))
}

/// Opens a WebSocket to `url`: resolves the host, connects over TCP (and TLS for `wss://`,
/// with the feature `rustls`, trusting the Mozilla roots `webpki-roots` compiles in), and
/// completes the opening handshake with the default [`Config`].
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine::tokio::Error> {
/// let mut ws = wsmachine::tokio::connect("ws://127.0.0.1:9001/").await?;
/// ws.send("hello".into()).await?;
/// if let Some(reply) = ws.recv().await {
///     println!("{:?}", reply?);
/// }
/// ws.close(wsmachine::frame::CloseCode::NORMAL, "bye").await?;
/// # Ok(()) }
/// ```
#[cfg(not(feature = "rustls"))]
pub async fn connect(url: &str) -> Result<WebSocket<::tokio::net::TcpStream>, Error> {
    let (uri, tcp) = dial(url).await?;
    if uri.is_secure() {
        return Err(Error::from(ErrorKind::Url(format!(
            "{url}: wss:// needs the rustls feature (or connect_with)"
        ))));
    }
    connect_with(tcp, ClientHandshake::for_uri(uri), Config::default()).await
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`): resolves the host, connects over TCP,
/// and for `wss://` over TLS, trusting the Mozilla roots `webpki-roots` compiles in; then
/// completes the opening handshake with the default [`Config`].
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine::tokio::Error> {
/// let mut ws = wsmachine::tokio::connect("wss://example.com/socket").await?;
/// ws.send("hello".into()).await?;
/// ws.close(wsmachine::frame::CloseCode::NORMAL, "bye").await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "rustls")]
pub async fn connect(url: &str) -> Result<WebSocket<Stream>, Error> {
    connect_tls(url, tls::default_config()).await
}

/// [`connect`] with the caller's rustls configuration for `wss://` (its roots, its client
/// certificate); `ws://` URLs connect without TLS.
#[cfg(feature = "rustls")]
pub async fn connect_tls(
    url: &str,
    config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<WebSocket<Stream>, Error> {
    let (uri, tcp) = dial(url).await?;
    let stream = if uri.is_secure() {
        tls::handshake(tcp, uri.host(), config).await?
    } else {
        Stream::Plain(tcp)
    };
    connect_with(stream, ClientHandshake::for_uri(uri), Config::default()).await
}

/// Parses `url` and connects over TCP to its host and port.
async fn dial(url: &str) -> Result<(WsUri, ::tokio::net::TcpStream), Error> {
    let uri = WsUri::parse(url).map_err(|error| Error::from(ErrorKind::Url(error.to_string())))?;
    let tcp = dial_uri(&uri).await?;
    Ok((uri, tcp))
}

/// Connects over TCP to `uri`'s host and port.
async fn dial_uri(uri: &WsUri) -> Result<::tokio::net::TcpStream, Error> {
    let tcp = ::tokio::net::TcpStream::connect((uri.host(), uri.port())).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Opens a WebSocket over a stream the caller brings (any TLS, a proxy tunnel) with
/// `handshake` and `config`; returns once the server accepted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wsmachine::handshake::ClientHandshake;
///
/// let (client_io, server_io) = tokio::io::duplex(4096);
/// let server = tokio::spawn(async move {
///     let mut ws = wsmachine::tokio::accept(server_io).await?;
///     while let Some(message) = ws.recv().await {
///         ws.send(message?).await?;
///     }
///     Ok::<_, wsmachine::tokio::Error>(())
/// });
/// let handshake = ClientHandshake::new("ws://example.com/")?;
/// let mut ws = wsmachine::tokio::connect_with(client_io, handshake, Default::default()).await?;
/// ws.send("ping?".into()).await?;
/// assert_eq!(ws.recv().await.transpose()?, Some("ping?".into()));
/// ws.close(wsmachine::frame::CloseCode::NORMAL, "").await?;
/// server.await.unwrap()?;
/// # Ok(()) }
/// ```
pub fn connect_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    handshake: ClientHandshake,
    config: Config,
) -> impl Future<Output = Result<WebSocket<S>, Error>> {
    // On the heap from the call on, as `accept_with`'s.
    Box::pin(async move {
        let connection = Connection::client(handshake, config, now())
            .map_err(|error| Error::from(ErrorKind::Url(error.to_string())))?;
        let mut ws = WebSocket::new(stream, connection);
        match ws.next_handshake_event().await? {
            Event::Accepted(_) => {
                ws.release_output();
                Ok(ws)
            }
            other => unreachable!("a client's first event is the server's answer, not {other:?}"),
        }
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A WebSocket over `io` driven by `connection`, in whatever state it is: a server or
    /// client still in its handshake, or one opened elsewhere ([`Connection::open`], after a
    /// hyper upgrade, say).
    pub fn new(io: S, connection: Connection) -> WebSocket<S> {
        WebSocket {
            io,
            connection,
            output: Vec::new(),
            written: 0,
            shared: None,
            timer: None,
            linger_until: None,
            high_water: DEFAULT_HIGH_WATER,
            read_closed: false,
            peer_close: None,
            ended: None,
            shut_down: false,
            end_reported: false,
            pending_error: None,
        }
    }

    /// The connection underneath, for its getters ([`state`](Connection::state),
    /// [`negotiated`](Connection::negotiated), ...).
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The peer's Close (its code and reason), once it came.
    #[must_use]
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_deref()
    }

    /// What the handshake negotiated: the subprotocol and extensions.
    #[must_use]
    pub fn negotiated(&self) -> &Negotiated {
        self.connection.negotiated()
    }

    /// How the connection ended, once it has.
    #[must_use]
    pub fn closed(&self) -> Option<Closed> {
        self.connection.closed()
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream underneath, mutably: for what the stream itself offers, such as resetting
    /// an HTTP/2 stream (`http2::Stream::reset`, feature `http2`). Reading or writing it directly would cut
    /// into the WebSocket's frames.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Sets the queued output above which `send` and `feed` wait for the socket (default
    /// 64 KiB).
    pub fn set_high_water(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// The next message (or a piece of a streamed one), Ping or Pong the peer sent; `None`
    /// once the connection is over and the transport closed: after the peer's Close (see
    /// [`close_frame`](WebSocket::close_frame)) the reply is written before `None` comes.
    /// Cancel-safe.
    ///
    /// An error ends the connection: a protocol error (after its Close with the error's code
    /// was written), an I/O error, or an end without a closing handshake (the peer vanished,
    /// a deadline passed); `None` follows.
    #[inline]
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
        Receiving(self)
    }

    /// [`recv`](WebSocket::recv) as a poll function, for `Stream` and hand-written futures.
    #[inline]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        // The common case first, inlined into the caller so that the message is built where
        // the caller wants it: a whole short message already read.
        if self.pending_error.is_none() {
            if let Some(message) = self.connection.poll_short_message() {
                return Poll::Ready(Some(Ok(message)));
            }
        }
        self.poll_recv_slow(cx)
    }

    /// The rest of [`poll_recv`](WebSocket::poll_recv): events, I/O and the clock.
    ///
    /// Reads as [`poll_event`](WebSocket::poll_event) does, except that a read whose first
    /// frame is a whole message short enough to be held inline ([`Payload`](crate::Payload))
    /// hands that message out from the read buffer: only what follows it is copied into the
    /// connection, so a connection that gets one short message per read never holds a
    /// receive buffer (the idle memory of the owned loop). A connection that holds one reads
    /// straight into it (see [`poll_io_with`](WebSocket::poll_io_with)).
    #[inline(never)]
    fn poll_recv_slow(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if let Some(error) = ready!(self.poll_pending_error(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            if let Some(next) = self.connection.poll_event() {
                if let Some(event) = self.take_event(next) {
                    match Message::from_event(event) {
                        // The peer's Close ends the stream, once the reply is written.
                        Ok(Message::Close(frame)) => self.peer_close = frame.map(Box::new),
                        Ok(message) => return Poll::Ready(Some(Ok(message))),
                        Err(_) => {}
                    }
                }
                continue;
            }
            let mut inline = None;
            let polled = self.poll_io_with(cx, false, |connection, bytes| {
                inline = connection.receive_in_place(bytes).poll_inline_message();
                Ok(())
            });
            if let Some(message) = inline {
                return Poll::Ready(Some(Ok(message)));
            }
            match polled {
                // What a read straight into the connection brought: its first message by the
                // fast path.
                Poll::Ready(Ok(true)) => {
                    if let Some(message) = self.connection.poll_short_message() {
                        return Poll::Ready(Some(Ok(message)));
                    }
                }
                Poll::Ready(Ok(false)) => return Poll::Ready(self.end().map(Err)),
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// An event the connection reported, for the caller, unless it is the end or an error,
    /// which are kept (`ended`, `pending_error`) for the caller's loop to act on.
    fn take_event(&mut self, next: Result<Event, crate::ProtocolError>) -> Option<Event> {
        match next {
            Ok(Event::Closed(closed)) => self.ended = Some(closed),
            Ok(event) => return Some(event),
            Err(error) => self.pending_error = Some(Error::from_protocol(error)),
        }
        None
    }

    /// The next message borrowed rather than owned, with the [`Sender`] to answer it while it
    /// is borrowed: the zero-copy path for loops that answer what arrives (an echo). Every
    /// other event comes as [`EventRef::Other`]. `None` once the connection is over.
    ///
    /// What is queued through the `Sender` is written by the next `recv_ref`, `recv`, `send`,
    /// `flush` or `close`; call one of them before waiting on anything else.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wsmachine::tokio::Error> {
    /// use wsmachine::EventRef;
    /// # let (client_io, server_io) = tokio::io::duplex(4096);
    /// # tokio::spawn(async move {
    /// #     let handshake = wsmachine::handshake::ClientHandshake::new("ws://a/").unwrap();
    /// #     let mut ws = wsmachine::tokio::connect_with(client_io, handshake, Default::default()).await.unwrap();
    /// #     ws.send("echo me".into()).await.unwrap();
    /// #     let _ = ws.recv().await;
    /// #     ws.close(wsmachine::frame::CloseCode::NORMAL, "").await.unwrap();
    /// # });
    /// let mut ws = wsmachine::tokio::accept(server_io).await?;
    /// while let Some(next) = ws.recv_ref().await {
    ///     match next? {
    ///         (EventRef::Text(text), sender) => sender.send_text(text)?,
    ///         (EventRef::Binary(data), sender) => sender.send_binary(data)?,
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[allow(clippy::type_complexity)]
    pub async fn recv_ref(&mut self) -> Option<Result<(EventRef<'_>, &mut Sender), Error>> {
        let lendable = match poll_fn(|cx| self.poll_lendable(cx)).await? {
            Ok(lendable) => lendable,
            Err(error) => return Some(Err(error)),
        };
        Some(Ok(self.connection.lend(lendable)))
    }

    /// Runs the connection until it is over, handing every event to `handler` borrowed where
    /// it lies in the read buffer (messages unmasked in place, never copied), with the
    /// [`Sender`] to answer it: the fastest way to serve a connection whose answers depend
    /// only on each message (an echo, a router). What the handler sends goes out once the
    /// read's events are handled, in one write. An error from the handler (a command the
    /// connection refused) ends the loop with it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wsmachine::tokio::Error> {
    /// use wsmachine::EventRef;
    /// # let (client_io, server_io) = tokio::io::duplex(4096);
    /// # tokio::spawn(async move {
    /// #     let handshake = wsmachine::handshake::ClientHandshake::new("ws://a/").unwrap();
    /// #     let mut ws = wsmachine::tokio::connect_with(client_io, handshake, Default::default()).await.unwrap();
    /// #     ws.send("echo me".into()).await.unwrap();
    /// #     let _ = ws.recv().await;
    /// #     ws.close(wsmachine::frame::CloseCode::NORMAL, "").await.unwrap();
    /// # });
    /// let mut ws = wsmachine::tokio::accept(server_io).await?;
    /// ws.for_each_ref(|event, sender| match event {
    ///     EventRef::Text(text) => sender.send_text(text),
    ///     EventRef::Binary(data) => sender.send_binary(data),
    ///     _ => Ok(()), // Pings are answered by the connection itself
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn for_each_ref(
        &mut self,
        mut handler: impl FnMut(EventRef<'_>, &mut Sender) -> Result<(), CommandError>,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_for_each_ref(cx, &mut handler)).await
    }

    fn poll_for_each_ref(
        &mut self,
        cx: &mut Context<'_>,
        handler: &mut impl FnMut(EventRef<'_>, &mut Sender) -> Result<(), CommandError>,
    ) -> Poll<Result<(), Error>> {
        loop {
            if let Some(error) = ready!(self.poll_pending_error(cx)) {
                return Poll::Ready(Err(error));
            }
            // What the connection holds already (a frame completed by an earlier read).
            while let Some(next) = self.connection.poll_event_ref() {
                match next {
                    Ok((EventRef::Other(Event::Closed(closed)), _)) => self.ended = Some(closed),
                    Ok((event, sender)) => handler(event, sender)?,
                    Err(error) => self.pending_error = Some(Error::from_protocol(error)),
                }
            }
            if self.pending_error.is_some() {
                continue;
            }
            let (mut ended, mut pending_error) = (None, None);
            let polled = self.poll_io_with(cx, true, |connection, bytes| {
                let mut input = connection.receive_in_place(bytes);
                while let Some(next) = input.poll_event_ref() {
                    match next {
                        Ok((EventRef::Other(Event::Closed(closed)), _)) => ended = Some(closed),
                        Ok((event, sender)) => handler(event, sender)?,
                        Err(error) => pending_error = Some(Error::from_protocol(error)),
                    }
                }
                Ok(())
            });
            self.ended = self.ended.or(ended);
            self.pending_error = self.pending_error.take().or(pending_error);
            match polled {
                Poll::Ready(Ok(true)) => continue,
                Poll::Ready(Ok(false)) => return Poll::Ready(self.end().map_or(Ok(()), Err)),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Sends a message (or a Ping, a Pong, a Close), waiting while more than the high-water
    /// mark is queued; see the module docs for when its bytes reach the socket. The message
    /// is queued when `send` is called if there is room, else once there is.
    #[inline]
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        Sending::message(self, message)
    }

    /// Sends a [`PreparedMessage`] as [`send`](WebSocket::send) sends a message: on a server,
    /// the frames it shares with every connection that negotiated alike are written from the
    /// one copy (a vectored write, after what was queued before them), framed and compressed
    /// once for all of them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use wsmachine::PreparedMessage;
    /// # let (server_io, client_io) = tokio::io::duplex(1 << 16);
    /// # let server = tokio::spawn(wsmachine::tokio::accept(server_io));
    /// # let handshake = wsmachine::handshake::ClientHandshake::new("ws://localhost/")?;
    /// # let mut client = wsmachine::tokio::connect_with(client_io, handshake, wsmachine::Config::default()).await?;
    /// # let mut server = server.await.unwrap()?;
    /// let news = Arc::new(PreparedMessage::text(r#"{"price":101.5}"#)); // to every subscriber
    /// server.send_prepared(&news).await?;
    /// assert_eq!(client.recv().await.unwrap()?, wsmachine::Message::from(r#"{"price":101.5}"#));
    /// # Ok(()) }
    /// ```
    pub fn send_prepared<'a>(
        &'a mut self,
        message: &'a PreparedMessage,
    ) -> impl Future<Output = Result<(), Error>> + 'a {
        Sending::prepared(self, message)
    }

    /// Queues a message, waiting only while more than the high-water mark is queued; it is
    /// written by the next `flush`, `send`, `recv` or `close`.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx)).await?;
        self.connection.sender().send(message)?;
        Ok(())
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_drain(cx, 0)).await?;
        Ok(())
    }

    /// Closes cleanly (§7.1.2): sends a Close with `code` and `reason`, then reads until the
    /// peer's Close or the close deadline ([`Config::close_timeout`]); messages that arrive
    /// meanwhile are dropped. A server then closes the transport first (§7.1.1); a client
    /// waits for it to, within [`Config::transport_close_timeout`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.connection.is_open() {
            self.connection.sender().close(code, reason)?;
        }
        while let Some(next) = self.recv().await {
            next?;
        }
        Ok(())
    }

    /// Drives the handshake until its outcome: the request (server) or the server's answer
    /// (client); an error or an end comes back as an error.
    async fn next_handshake_event(&mut self) -> Result<Event, Error> {
        match poll_fn(|cx| self.poll_event(cx)).await {
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

    /// Writes what is left and shuts the transport down, after a rejection.
    async fn finish(&mut self) -> Result<(), Error> {
        while poll_fn(|cx| self.poll_event(cx)).await.is_some() {}
        Ok(())
    }

    /// The next event with the I/O and the clock driven: the events of the connection, then
    /// its output written, its deadlines kept and more input read, until one comes; `None`
    /// once the connection is over, its output written and the transport shut down.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        loop {
            if let Some(error) = ready!(self.poll_pending_error(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            if let Some(next) = self.connection.poll_event() {
                if let Some(event) = self.take_event(next) {
                    return Poll::Ready(Some(Ok(event)));
                }
                continue;
            }
            match self.poll_io(cx) {
                Poll::Ready(Ok(true)) => continue,
                Poll::Ready(Ok(false)) => return Poll::Ready(self.end().map(Err)),
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// As [`poll_event`](WebSocket::poll_event), for a borrowed event: finds the next one
    /// without lending it yet.
    fn poll_lendable(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Lendable, Error>>> {
        loop {
            if let Some(error) = ready!(self.poll_pending_error(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            if let Some(next) = self.connection.poll_lendable() {
                match next {
                    Ok(lendable) if lendable.is_end() => {
                        self.ended = self.connection.closed();
                    }
                    Ok(lendable) => return Poll::Ready(Some(Ok(lendable))),
                    Err(error) => self.pending_error = Some(Error::from_protocol(error)),
                }
                continue;
            }
            match self.poll_io(cx) {
                Poll::Ready(Ok(true)) => continue,
                Poll::Ready(Ok(false)) => return Poll::Ready(self.end().map(Err)),
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// A protocol error found, once the Close it calls for is written (or the stream refuses
    /// it): the error is returned only then, so that a caller who stops at the error has
    /// sent what the connection owes. Kept in the `WebSocket` while it waits: cancel-safe.
    fn poll_pending_error(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        if self.pending_error.is_none() {
            return Poll::Ready(None);
        }
        // A write error changes nothing: the protocol error is what to report.
        let _ = ready!(self.poll_drain(cx, 0));
        Poll::Ready(self.pending_error.take())
    }

    /// After the end: an unclean end is an error, once (unless the error that caused it was
    /// returned when it was found); then nothing.
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

    /// One round of I/O: write the output, keep the deadlines, read into the connection
    /// (straight into its receive buffer when it holds one, else copied from the shared one).
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Error>> {
        self.poll_io_with(cx, false, |connection, bytes| {
            connection.receive(bytes);
            Ok(())
        })
    }

    /// One round of I/O: write the output, keep the deadlines, read. A busy connection reads
    /// straight into its receive buffer unless `in_place`; every other read goes into the
    /// thread's shared buffer, and what arrives is handed to `on_read` with the connection.
    /// `Ready(Ok(true))` when something happened that may have brought an event;
    /// `Ready(Ok(false))` once the connection is over and the transport shut down; `Pending`
    /// when waiting on the socket or the clock.
    fn poll_io_with(
        &mut self,
        cx: &mut Context<'_>,
        in_place: bool,
        on_read: impl FnOnce(&mut Connection, &mut [u8]) -> Result<(), Error>,
    ) -> Poll<Result<bool, Error>> {
        let written = self.poll_write_out(cx)?;
        if self.connection.should_close_transport() {
            // A deadline that passed while a `send` waited ended it before its event was read.
            self.ended = self.ended.or(self.connection.closed());
            if written.is_pending() && !self.poll_linger(cx) {
                return Poll::Pending;
            }
            if !self.shut_down {
                // A failed shutdown changes nothing: the connection is over either way.
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                self.shut_down = true;
            }
            return Poll::Ready(Ok(false));
        }
        if self.poll_timer(cx) {
            self.connection.handle_timeout(now());
            // A deadline (most often the keepalive's) is the moment to give the written
            // output's buffer back, as the connection gives back its own: rare, so a busy
            // connection hardly notices, and an idle one holds none.
            self.release_written_output();
            return Poll::Ready(Ok(true));
        }
        if self.read_closed {
            // EOF was read: only the clock or the output can move the connection now.
            return Poll::Pending;
        }
        if written.is_pending() && self.pending_output() > self.high_water {
            // The peer is not taking what it is sent: read nothing more until it does, so
            // that a peer that never reads cannot make this end queue without bound, and the
            // keepalive Ping, stuck behind that output, ends the connection if it never does.
            return Poll::Pending;
        }
        let direct = if in_place {
            None
        } else {
            self.connection.receive_buffer(DIRECT_READ_LEN, READ_BUFFER_LEN)
        };
        let read = if let Some((buffer, limit)) = direct {
            // A busy connection (one that holds a receive buffer, which a read that left
            // input over allocated) reads straight into it, saving the copy out of the shared
            // buffer. It keeps the buffer until the keepalive deadline gives it back with the
            // rest (`Connection::release_buffers`), so a burst after a burst allocates
            // nothing. (A reader of borrowed events reads in place instead: only what follows
            // the last whole frame of a read is copied.) The read ends where a large frame
            // does (see `Reader::buffer_for_input`).
            let read = pin!(self.io.read_buf(&mut bytes::BufMut::limit(buffer, limit))).poll(cx);
            match read {
                Poll::Ready(Ok(0)) => {
                    self.input_ended();
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Ok(_)) => {
                    self.connection.note_input();
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(error)) => Poll::Ready(Err(error.into())),
                Poll::Pending => Poll::Pending,
            }
        } else {
            self.read_shared(cx, on_read)
        };
        match read {
            Poll::Ready(Ok(())) => {
                // Dates the input, so that the idle deadline is exact.
                self.connection.handle_timeout(now());
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Reads into the buffer every `WebSocket` on the thread shares and hands what arrived to
    /// `on_read` with the connection.
    fn read_shared(
        &mut self,
        cx: &mut Context<'_>,
        on_read: impl FnOnce(&mut Connection, &mut [u8]) -> Result<(), Error>,
    ) -> Poll<Result<(), Error>> {
        READ_BUFFER.with_borrow_mut(|buffer| {
            let mut buf = ReadBuf::new(buffer);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.input_ended();
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Ok(())) => {
                    let filled = buf.filled().len();
                    Poll::Ready(on_read(&mut self.connection, &mut buffer[..filled]))
                }
                Poll::Ready(Err(error)) => Poll::Ready(Err(error.into())),
                Poll::Pending => Poll::Pending,
            }
        })
    }

    /// A read found the end of the stream (EOF): nothing more is read.
    fn input_ended(&mut self) {
        self.read_closed = true;
        self.connection.receive_eof();
    }

    /// Sets the sleep to the connection's next deadline; true if it passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.connection.poll_timeout() else {
            return false;
        };
        self.poll_sleep_until(cx, deadline)
    }

    /// After the end, whether to stop waiting for the peer to take the output that is left:
    /// at once when a deadline ended the connection (the peer is gone, or too slow), else
    /// once [`Config::close_timeout`] has passed since the end (10 s without it).
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> bool {
        let linger = self.connection.output_linger();
        if linger.is_zero() {
            return true;
        }
        let until = *self.linger_until.get_or_insert_with(|| now() + linger);
        self.poll_sleep_until(cx, until)
    }

    /// Sets the sleep to `deadline`; true if it passed.
    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> bool {
        let at = ::tokio::time::Instant::from_std(deadline);
        let sleep = match &mut self.timer {
            Some(sleep) if sleep.deadline() == at => sleep,
            Some(sleep) => {
                sleep.as_mut().reset(at);
                sleep
            }
            None => self.timer.insert(Box::pin(::tokio::time::sleep_until(at))),
        };
        sleep.as_mut().poll(cx).is_ready()
    }

    /// Writes the connection's output until it is all written (`Ready`) or the socket is
    /// full (`Pending`): its own bytes, and frames shared with other connections after them in
    /// the same (vectored) write.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.written == self.output.len() && self.shared.is_none() {
                self.output.clear();
                self.written = 0;
                self.shared = self.connection.poll_transmit_shared(&mut self.output);
                if self.output.is_empty() && self.shared.is_none() {
                    if self.output.capacity() > KEEP_OUTPUT_CAPACITY {
                        self.output = Vec::new();
                    }
                    return Pin::new(&mut self.io).poll_flush(cx).map_err(Error::from);
                }
            }
            let own = &self.output[self.written..];
            let io = Pin::new(&mut self.io);
            let wrote = match self.shared.as_deref() {
                Some(shared) if own.is_empty() => io.poll_write(cx, shared),
                Some(shared) if io.is_write_vectored() => {
                    io.poll_write_vectored(cx, &[io::IoSlice::new(own), io::IoSlice::new(shared)])
                }
                _ => io.poll_write(cx, own),
            };
            match ready!(wrote) {
                Ok(0) => return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into())),
                Ok(wrote) => self.advance(wrote),
                Err(error) => return Poll::Ready(Err(error.into())),
            }
        }
    }

    /// Counts `wrote` bytes as written: the connection's own first, then the shared frame's.
    fn advance(&mut self, wrote: usize) {
        let own = self.output.len() - self.written;
        self.written += wrote.min(own);
        if let Some(shared) = self.shared.as_mut() {
            bytes::Buf::advance(shared, wrote.saturating_sub(own));
            if shared.is_empty() {
                self.shared = None;
            }
        }
    }

    /// Waits until the queued output is under the high-water mark, writing it (see
    /// [`poll_drain`](WebSocket::poll_drain)).
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.pending_output() <= self.high_water {
            return Poll::Ready(Ok(()));
        }
        self.poll_drain(cx, self.high_water)
    }

    /// Writes until at most `limit` bytes are left queued (0: all of it, and the stream
    /// flushed). The deadlines run while the peer takes nothing: it gets the keepalive Ping,
    /// and when that goes unanswered ([`Config::pong_timeout`]) the wait ends with
    /// [`ErrorKind::Ended`]. Once the connection is over, what is left gets the linger of
    /// [`poll_linger`](WebSocket::poll_linger), then the transport is shut down; output given
    /// up is an `ErrorKind::Ended`.
    fn poll_drain(&mut self, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        loop {
            if self.connection.should_close_transport() {
                ready!(self.poll_io(cx))?;
                if self.pending_output() == 0 {
                    return Poll::Ready(Ok(()));
                }
                self.end_reported = true;
                let closed = self.connection.closed().unwrap_or(Closed {
                    code: CloseCode::ABNORMAL_CLOSURE,
                    clean: false,
                    cause: CloseCause::TransportEnded,
                });
                return Poll::Ready(Err(Error::from(ErrorKind::Ended(closed))));
            }
            if self.poll_write_out(cx)?.is_ready() {
                return Poll::Ready(Ok(()));
            }
            if limit > 0 && self.pending_output() <= limit {
                return Poll::Ready(Ok(()));
            }
            if !self.poll_timer(cx) {
                return Poll::Pending;
            }
            self.connection.handle_timeout(now());
        }
    }

    /// Gives the output buffers back (the adapter's and the connection's) once everything in
    /// them is written: after the handshake, whose response would otherwise size the buffer an
    /// idle connection keeps.
    fn release_output(&mut self) {
        self.release_written_output();
        self.connection.release_buffers();
    }

    /// Gives the adapter's output buffer back if everything in it is written.
    fn release_written_output(&mut self) {
        if self.written >= self.output.len() {
            self.output = Vec::new();
            self.written = 0;
        }
    }

    fn pending_output(&self) -> usize {
        self.output.len() - self.written
            + self.shared.as_ref().map_or(0, bytes::Bytes::len)
            + self.connection.buffered_output()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().connection.sender().send(message)?;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_drain(cx, 0)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.connection.is_open() {
            this.connection.sender().close(CloseCode::NORMAL, "")?;
        }
        loop {
            match ready!(this.poll_event(cx)) {
                Some(Err(error)) => return Poll::Ready(Err(error)),
                Some(Ok(_)) => {}
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handshake's request and response are buffered while they are read and written;
    /// an idle connection must not keep those buffers (they were the largest part of its
    /// heap after the task itself, see docs/benchmarks.md).
    #[::tokio::test]
    async fn a_websocket_holds_no_data_buffer_once_its_handshake_is_done() {
        let (client_io, server_io) = ::tokio::io::duplex(4096);
        let server = ::tokio::spawn(accept(server_io));
        let handshake = ClientHandshake::new("ws://localhost/chat").unwrap();
        let client = connect_with(client_io, handshake, Config::default()).await.unwrap();
        let server = server.await.unwrap().unwrap();
        for ws in [&server, &client] {
            assert_eq!(ws.output.capacity(), 0);
            assert_eq!(ws.connection.buffer_capacities(), (0, 0));
        }
    }

    /// A masked client frame.
    fn client_frame(opcode: crate::frame::Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let key = [9, 8, 7, 6];
        let header = crate::frame::FrameHeader::new(opcode, payload.len() as u64)
            .with_fin(fin)
            .with_mask(key);
        let mut out = vec![0; header.encoded_len()];
        header.encode(&mut out).unwrap();
        let start = out.len();
        out.extend_from_slice(payload);
        crate::frame::apply_mask(&mut out[start..], key);
        out
    }

    /// Once a read leaves input over, the connection reads straight into its own receive
    /// buffer (no copy out of the shared one); every message still comes out whole and in
    /// order whatever the reads cut, and the keepalive deadline frees the buffer.
    #[::tokio::test(start_paused = true)]
    async fn a_busy_connection_reads_into_its_own_buffer_until_the_keepalive_frees_it() {
        use crate::frame::Opcode;
        use ::tokio::io::AsyncWriteExt;

        // Short messages (inline and shared), a fragmented one, a Ping and a long one, cut by
        // a pipe of 1,000 bytes into reads that end anywhere.
        let mut expected = Vec::new();
        let mut wire = Vec::new();
        for i in 0..400_usize {
            let payload: Vec<u8> = (0..(i * 7) % 140).map(|j| (i + j) as u8).collect();
            wire.extend(client_frame(Opcode::Binary, true, &payload));
            expected.push(Message::Binary(payload.into()));
            if i % 50 == 7 {
                let text = format!("message {i} in three pieces");
                let (first, rest) = text.as_bytes().split_at(8);
                let (second, third) = rest.split_at(5);
                wire.extend(client_frame(Opcode::Text, false, first));
                wire.extend(client_frame(Opcode::Ping, true, b"ping"));
                wire.extend(client_frame(Opcode::Continuation, false, second));
                wire.extend(client_frame(Opcode::Continuation, true, third));
                expected.push(Message::Ping(bytes::Bytes::from_static(b"ping")));
                expected.push(Message::from(text.as_str()));
            }
            if i == 200 {
                let long = vec![0x5a; 70_000];
                wire.extend(client_frame(Opcode::Binary, true, &long));
                expected.push(Message::Binary(long.into()));
            }
        }
        let (mut client_io, server_io) = ::tokio::io::duplex(1000);
        let server = ::tokio::spawn(accept(server_io));
        let handshake = ClientHandshake::new("ws://localhost/chat").unwrap();
        let mut client = Connection::client(handshake, Config::default(), now()).unwrap();
        let mut request = Vec::new();
        client.poll_transmit(&mut request);
        client_io.write_all(&request).await.unwrap();
        let writer = ::tokio::spawn(async move {
            let mut response = [0; 1024];
            let read = ::tokio::io::AsyncReadExt::read(&mut client_io, &mut response).await;
            assert!(read.unwrap() > 0);
            client_io.write_all(&wire).await.unwrap();
            client_io
        });
        let mut ws = server.await.unwrap().unwrap();
        for (n, want) in expected.iter().enumerate() {
            let got = ws.recv().await.unwrap().unwrap();
            assert_eq!(&got, want, "message {n}");
            if n == 0 {
                assert!(ws.connection.buffer_capacities().0 > 0, "the first read left input over");
            }
        }
        let _client_io = writer.await.unwrap();
        let keepalive = Config::default().keepalive_interval.unwrap();
        let waited = ::tokio::time::timeout(keepalive / 2, ws.recv()).await;
        assert!(waited.is_err());
        assert!(ws.connection.buffer_capacities().0 > 0, "kept for the next burst");
        let waited = ::tokio::time::timeout(keepalive, ws.recv()).await;
        assert!(waited.is_err(), "the Ping is unanswered, but its deadline is later");
        assert_eq!(ws.connection.buffer_capacities().0, 0, "given back at the keepalive");
    }

    /// A stream whose reader has every byte of `input` ready and gives as many as each read
    /// asks for, recording how many that was; what is written to it is dropped.
    struct EagerStream {
        input: Vec<u8>,
        at: usize,
        reads: Vec<usize>,
    }

    impl AsyncRead for EagerStream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = &mut *self;
            if this.at == this.input.len() {
                return Poll::Pending;
            }
            let len = buf.remaining().min(this.input.len() - this.at);
            buf.put_slice(&this.input[this.at..this.at + len]);
            this.at += len;
            this.reads.push(len);
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for EagerStream {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// With a stream of large frames ready at once, reads end where frames end: once the
    /// first large frame has been completed, each read takes at most one frame, and the
    /// messages are cut from a few places in one buffer, which each message echoed gives
    /// back before the next (nothing is moved or copied to make room for a frame's tail).
    #[::tokio::test]
    async fn large_frames_are_read_a_frame_a_read_into_one_buffer() {
        use crate::frame::Opcode;

        const PAYLOAD: usize = 65_536;
        const MESSAGES: usize = 12;
        let payloads: Vec<Vec<u8>> =
            (0..MESSAGES).map(|i| (0..PAYLOAD).map(|j| (i * 31 + j) as u8).collect()).collect();
        // A short frame first, so that the buffer is the connection's own from then on.
        let mut input = client_frame(Opcode::Binary, true, b"first");
        let mut frame_starts = Vec::new();
        for payload in &payloads {
            frame_starts.push(input.len());
            input.extend(client_frame(Opcode::Binary, true, payload));
        }
        let frame_len = input.len() - frame_starts[MESSAGES - 1];
        let io = EagerStream { input, at: 0, reads: Vec::new() };
        let connection =
            Connection::open(crate::Role::Server, Negotiated::default(), Config::default(), now());
        let mut ws = WebSocket::new(io, connection);
        let first = ws.recv().await.unwrap().unwrap();
        assert_eq!(first, Message::from(&b"first"[..]));
        let mut starts = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            let message = ws.recv().await.unwrap().unwrap();
            let Message::Binary(got) = &message else { panic!("message {i}: {message:?}") };
            assert_eq!(&got[..], &payload[..], "message {i}");
            starts.push(got.as_ptr() as usize);
            ws.send(message).await.unwrap();
        }
        // The reads: where each one ended in the input.
        let ends: Vec<usize> = ws
            .io
            .reads
            .iter()
            .scan(0, |at, len| {
                *at += len;
                Some(*at)
            })
            .collect();
        let first_aligned = ends
            .iter()
            .position(|end| frame_starts.contains(end))
            .expect("no read ended where a frame ends");
        for (end, read) in ends[first_aligned..].iter().zip(&ws.io.reads[first_aligned..]) {
            assert!(
                frame_starts.contains(end) || *end == ws.io.input.len(),
                "a read ended inside a frame: {:?}",
                ws.io.reads
            );
            assert!(*read <= frame_len, "a read ran past one frame: {:?}", ws.io.reads);
        }
        assert!(first_aligned <= 3, "reads: {:?}", ws.io.reads);
        // Once the reads are in step with the frames (the first read, through the shared
        // buffer, took several), messages are cut from a few places in one buffer, taken in
        // turn, rather than each from a new one.
        let mut places = starts[4..].to_vec();
        places.sort_unstable();
        places.dedup();
        assert!(places.len() <= 3, "{starts:x?}");
        assert!(places[places.len() - 1] - places[0] < 4 * frame_len, "{starts:x?}");
    }

    /// A peer that sends a long frame's header and a few bytes of it gets no more room for
    /// the frame than the usual read's: the rest of a frame is read up to its end, but never
    /// into more memory than has come of it.
    #[::tokio::test(start_paused = true)]
    async fn a_long_frames_header_alone_gets_no_more_room_than_a_read() {
        use crate::frame::{FrameHeader, Opcode};

        let mut input = client_frame(Opcode::Binary, true, b"first");
        let header = FrameHeader::new(Opcode::Binary, 1_000_000).with_mask([1, 2, 3, 4]);
        let start = input.len();
        input.resize(start + header.encoded_len(), 0);
        header.encode(&mut input[start..]).unwrap();
        input.extend_from_slice(&[0x55; 100]);
        let io = EagerStream { input, at: 0, reads: Vec::new() };
        let connection =
            Connection::open(crate::Role::Server, Negotiated::default(), Config::default(), now());
        let mut ws = WebSocket::new(io, connection);
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from(&b"first"[..]));
        let waited = ::tokio::time::timeout(std::time::Duration::from_millis(10), ws.recv()).await;
        assert!(waited.is_err(), "the frame is not all there");
        let held = ws.connection.buffer_capacities().0;
        assert!(held > 0 && held < 2 * DIRECT_READ_LEN, "{held} bytes held for 114 received");
    }
}
