//! The connection state machine (RFC 6455 §4–§8): one type for both roles, from the opening
//! handshake to the end.

#[cfg(feature = "deflate")]
mod compression;
mod in_place;
mod receiver;
mod responder;
mod sender;

use alloc::boxed::Box;
use alloc::vec::Vec;

pub use in_place::InPlace;
pub use receiver::Receiver;
use receiver::{Ready, ShortFrame};
pub use responder::Responder;
pub use sender::{Reply, Sender};

use crate::error::{ProtocolError, SendError};
use crate::event::{Closed, Event, EventRef, MessageKind};
use crate::frame::CloseCode;
use crate::frame::Status;
use crate::handshake::{
    Accept, AcceptError, ClientHandshake, Incoming, Negotiated, PendingHandshake, Rejection,
    Request, RequestBuildError,
};
use crate::random::RandomSource;
use crate::{Config, Role};

/// The default source of masking keys and handshake nonces: [`OsSeededRandom`] with `std`.
///
/// [`OsSeededRandom`]: crate::OsSeededRandom
#[cfg(feature = "std")]
pub type DefaultRandom = crate::OsSeededRandom;

/// Without `std` there is no default source: a server needs none (it never masks), and a
/// client brings its own through [`Connection::client_with`].
#[cfg(not(feature = "std"))]
pub type DefaultRandom = ServerOnly;

/// The randomness of a connection that never needs any: a server never masks and never makes
/// a handshake key. It cannot be constructed outside the crate.
#[derive(Debug)]
pub struct ServerOnly(());

impl RandomSource for ServerOnly {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // Unreachable for a server; zeros rather than a panic if it ever were.
        dest.fill(0);
    }
}

/// Where a connection is in its life (§4, §7).
#[derive(Debug)]
enum State {
    /// Server: reading the client's request, within the configured limits.
    AwaitingRequest(Box<Config>),
    /// Server: the request was reported; waiting for the caller to accept or reject it.
    AwaitingDecision(Box<Config>),
    /// Client: the request is sent; reading the response.
    AwaitingResponse(Box<(PendingHandshake, Config)>),
    /// Frames flow; the closing handshake is tracked by the two halves.
    Open,
    /// The server answered without upgrading; the transport should close once the response is
    /// sent.
    Refused,
    /// The end was reported; `clean` if after a closing handshake.
    Closed {
        /// Whether both Close frames were exchanged.
        clean: bool,
    },
}

/// What a connection waits for from the peer, so the caller can apply its own deadline.
///
/// ```
/// use wsmachine::frame::CloseCode;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Role, Waiting};
///
/// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default());
/// assert_eq!(server.waiting_for(), Waiting::Messages);
/// server.close(CloseCode::GOING_AWAY, "restart")?;
/// assert_eq!(server.waiting_for(), Waiting::CloseReply); // start the close deadline
/// # Ok::<(), wsmachine::SendError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Waiting {
    /// Server: the client's request (a handshake deadline applies).
    Request,
    /// Server: nothing from the peer; the caller must accept or reject the request.
    Decision,
    /// Client: the server's response (a handshake deadline applies).
    Response,
    /// Messages, open-ended (an idle deadline or keepalive ping applies).
    Messages,
    /// The peer's Close reply to ours (a close deadline applies, §7.1.1).
    CloseReply,
    /// Client: the server's closing of the transport after the closing handshake (§7.1.1).
    TransportClose,
    /// Nothing: the connection is over.
    Nothing,
}

/// A WebSocket connection for either role, as a sans-IO state machine.
///
/// Methods come in four groups, in the manner of quinn-proto:
/// - inputs: [`receive`](Connection::receive) the bytes that arrived, in any chunking, and
///   [`receive_eof`](Connection::receive_eof) when the transport ended;
/// - events: [`poll_event`](Connection::poll_event) until it returns `None`;
/// - commands: [`accept`](Connection::accept) / [`reject`](Connection::reject) a handshake,
///   [`send_text`](Connection::send_text), [`send_binary`](Connection::send_binary),
///   [`send_ping`](Connection::send_ping), [`close`](Connection::close), streamed messages;
/// - outputs: [`poll_transmit`](Connection::poll_transmit) the bytes to write, and
///   [`should_close_transport`](Connection::should_close_transport) /
///   [`waiting_for`](Connection::waiting_for) for the caller's timers and sockets.
///
/// ```
/// use wsmachine::handshake::ClientHandshake;
/// use wsmachine::{Config, Connection, Event};
///
/// let mut server = Connection::server(Config::default());
/// let mut client = Connection::client(ClientHandshake::new("ws://localhost/chat")?, Config::default())?;
/// let mut wire = Vec::new();
///
/// // Client -> server: the request. The server reports it and the caller accepts.
/// client.poll_transmit(&mut wire);
/// server.receive(&wire);
/// wire.clear();
/// let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!() };
/// server.accept(request.accept())?;
///
/// // Server -> client: the 101, then a message.
/// server.send_text("hello")?;
/// server.poll_transmit(&mut wire);
/// client.receive(&wire);
/// wire.clear();
/// assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
/// let Some(Ok(Event::Text(text))) = client.poll_event() else { panic!() };
/// assert_eq!(text.as_str(), "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Connection<R = DefaultRandom> {
    role: Role,
    /// The configuration stays only while the handshake needs it; the halves keep their own
    /// limits.
    state: State,
    receiver: Receiver,
    sender: Sender<R>,
    /// What the handshake negotiated, if anything.
    negotiated: Option<Box<Negotiated>>,
    /// The code this end failed the connection with, if it did.
    failed_with: Option<CloseCode>,
}

#[cfg(feature = "std")]
impl Connection<crate::OsSeededRandom> {
    /// A server connection waiting for the client's opening handshake.
    #[must_use]
    pub fn server(config: Config) -> Self {
        Connection::new_server(config, crate::OsSeededRandom::new())
    }

    /// A client connection whose opening handshake request is already queued for output, with
    /// keys from the operating system's randomness.
    pub fn client(handshake: ClientHandshake, config: Config) -> Result<Self, RequestBuildError> {
        Connection::client_with(handshake, config, crate::OsSeededRandom::new())
    }

    /// A connection already open after a handshake done elsewhere (a hyper upgrade, an HTTP/2
    /// extended CONNECT), given this end's role and what was negotiated.
    #[must_use]
    pub fn open(role: Role, negotiated: Negotiated, config: Config) -> Self {
        Connection::open_with(role, negotiated, config, crate::OsSeededRandom::new())
    }
}

#[cfg(not(feature = "std"))]
impl Connection<ServerOnly> {
    /// A server connection waiting for the client's opening handshake.
    #[must_use]
    pub fn server(config: Config) -> Self {
        Connection::new_server(config, ServerOnly(()))
    }
}

impl<R: RandomSource> Connection<R> {
    fn new_server(config: Config, random: R) -> Self {
        Connection {
            role: Role::Server,
            receiver: Receiver::new(Role::Server, &config),
            sender: Sender::new(
                Role::Server,
                random,
                config.max_buffered_output,
                config.fragment_size,
            ),
            state: State::AwaitingRequest(Box::new(config)),
            negotiated: None,
            failed_with: None,
        }
    }

    /// A client connection with keys from `random`; its request is queued for output.
    pub fn client_with(
        handshake: ClientHandshake,
        config: Config,
        mut random: R,
    ) -> Result<Self, RequestBuildError> {
        #[cfg(feature = "deflate")]
        let handshake = match config.deflate {
            Some(deflate) if !handshake.offers(crate::extensions::deflate::EXTENSION_NAME) => {
                handshake.extension(deflate.offer())
            }
            _ => handshake,
        };
        let mut request = Vec::new();
        let pending =
            handshake.limits(config.handshake).write_request(&mut random, &mut request)?;
        let mut sender =
            Sender::new(Role::Client, random, config.max_buffered_output, config.fragment_size);
        sender.queue_raw(request);
        Ok(Connection {
            role: Role::Client,
            receiver: Receiver::new(Role::Client, &config),
            state: State::AwaitingResponse(Box::new((pending, config))),
            sender,
            negotiated: None,
            failed_with: None,
        })
    }

    /// An open connection with keys from `random` (see [`Connection::open`]).
    pub fn open_with(role: Role, negotiated: Negotiated, config: Config, random: R) -> Self {
        let mut connection = Connection {
            role,
            state: State::Open,
            receiver: Receiver::new(role, &config),
            sender: Sender::new(role, random, config.max_buffered_output, config.fragment_size),
            negotiated: None,
            failed_with: None,
        };
        connection.set_negotiated(negotiated, &config);
        connection
    }

    /// Puts the negotiated extensions in force: permessage-deflate claims RSV1 (RFC 7692 §6);
    /// without it no RSV bit is allowed (§5.2).
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    fn set_negotiated(&mut self, negotiated: Negotiated, config: &Config) {
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut rsv = crate::frame::Rsv::NONE;
        #[cfg(feature = "deflate")]
        if let Ok(Some(params)) =
            crate::extensions::deflate::check_accepted(negotiated.extensions())
        {
            let (outgoing, incoming) = compression::directions(&params, self.role);
            let threshold = config.deflate.map_or(0, |d| d.compression_threshold);
            self.sender.enable_deflate(compression::Deflate::new(outgoing, threshold));
            self.receiver.enable_inflate(compression::Inflate::new(incoming));
            rsv = crate::frame::Rsv::RSV1;
        }
        self.receiver.set_allowed_rsv(rsv);
        self.negotiated = (negotiated != Negotiated::default()).then(|| Box::new(negotiated));
    }

    // ----- getters -----

    /// This end's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// What the handshake negotiated (empty before it completes).
    #[must_use]
    pub fn negotiated(&self) -> &Negotiated {
        static NOTHING: Negotiated = Negotiated::NOTHING;
        self.negotiated.as_deref().unwrap_or(&NOTHING)
    }

    /// Whether messages can flow: the handshake is done and no Close was sent or received.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
            && !self.sender.close_sent()
            && !self.receiver.close_received()
    }

    /// What the connection waits for from the peer, for the caller's deadlines.
    #[must_use]
    pub fn waiting_for(&self) -> Waiting {
        match &self.state {
            State::AwaitingRequest(_) => Waiting::Request,
            State::AwaitingDecision(_) => Waiting::Decision,
            State::AwaitingResponse(_) => Waiting::Response,
            State::Closed { clean: true } if self.client_awaits_transport_close() => {
                Waiting::TransportClose
            }
            State::Refused | State::Closed { .. } => Waiting::Nothing,
            State::Open => match (self.sender.close_sent(), self.receiver.close_received()) {
                _ if self.failed_with.is_some() => Waiting::Nothing,
                (false, false) => Waiting::Messages,
                (true, false) => Waiting::CloseReply,
                (_, true) if self.client_awaits_transport_close() => Waiting::TransportClose,
                (_, true) => Waiting::Nothing,
            },
        }
    }

    /// Whether the caller should close the transport once the output is written: after a
    /// rejected handshake, after the closing handshake on a server (§7.1.1: the server closes
    /// first), after the peer's EOF, or after this end failed the connection.
    #[must_use]
    pub fn should_close_transport(&self) -> bool {
        match &self.state {
            State::Closed { clean: true } => !self.client_awaits_transport_close(),
            State::Refused | State::Closed { .. } => true,
            State::Open => {
                self.failed_with.is_some()
                    || self.receiver.is_eof()
                    || (self.sender.close_sent()
                        && self.receiver.close_received()
                        && !self.client_awaits_transport_close())
            }
            _ => self.receiver.is_eof(),
        }
    }

    /// After the closing handshake a client leaves closing the transport to the server
    /// (§7.1.1), until the server does or the caller's deadline passes.
    fn client_awaits_transport_close(&self) -> bool {
        self.role == Role::Client && !self.receiver.is_eof()
    }

    /// Bytes received and not yet turned into events: bounded by the frame and message limits
    /// (and, when streaming, by what arrived since the last poll).
    #[must_use]
    pub fn receiver_buffered(&self) -> usize {
        self.receiver.buffered_len()
    }

    /// Frees the receive and send buffers if they are empty, so that an idle connection holds
    /// no heap at all (the handshake's buffers are freed this way automatically). Call it when
    /// a connection goes idle among many; the next message allocates them again.
    pub fn release_buffers(&mut self) {
        self.settle_failure();
        self.receiver.release_if_empty();
        self.sender.release_if_empty();
    }

    /// Gives the connection an empty buffer to queue its output in, if it has none waiting:
    /// one buffer with room that an event loop shares between its connections, say. The
    /// buffer comes back with the output from [`poll_transmit`](Connection::poll_transmit)
    /// into an empty `Vec`, so that a connection holds no output buffer between writes and
    /// none is allocated per message.
    ///
    /// ```
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default());
    /// let shared = Vec::with_capacity(64 * 1024);
    /// server.lend_output_buffer(shared);
    /// server.send_text("hi")?;
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out);
    /// assert_eq!(out, [0x81, 0x02, b'h', b'i']);
    /// assert!(out.capacity() >= 64 * 1024); // the lent buffer, to lend again
    /// # Ok::<(), wsmachine::SendError>(())
    /// ```
    pub fn lend_output_buffer(&mut self, buffer: Vec<u8>) {
        self.sender.lend_buffer(buffer);
    }

    /// Bytes waiting to be written: the backpressure signal.
    #[must_use]
    pub fn buffered_output(&self) -> usize {
        self.sender.buffered_len()
    }

    // ----- inputs -----

    /// Takes the bytes that arrived from the peer, in any chunking.
    /// Once the connection is refused or over, input is discarded: nothing reads it.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.settle_failure();
        if matches!(self.state, State::Refused | State::Closed { .. }) {
            return;
        }
        self.receiver.receive(bytes);
    }

    /// Records that the peer closed the transport. Without a closing handshake first, the end
    /// is reported as abnormal closure (1006, §7.1.5).
    pub fn receive_eof(&mut self) {
        self.settle_failure();
        self.receiver.receive_eof();
    }

    // ----- events -----

    /// The next event, or `None` until more input arrives. Replies the peer is owed (Pongs,
    /// the Close reply) are queued for output as a side effect.
    pub fn poll_event(&mut self) -> Option<Result<Event, ProtocolError>> {
        self.settle_failure();
        if matches!(self.state, State::Open) && self.failed_with.is_none() {
            // The common case, a whole message in one short frame, without the general loop.
            if let Some(event) = self.receiver.short_frame_event() {
                return Some(Ok(event));
            }
        }
        let event = match self.state {
            State::AwaitingRequest(_) => self.poll_request(),
            State::AwaitingResponse(_) => self.poll_response(),
            State::Open => self.poll_open(Receiver::poll_event),
            State::AwaitingDecision(_) | State::Refused | State::Closed { .. } => None,
        };
        self.forward_replies();
        event
    }

    /// The next event as [`poll_event`](Connection::poll_event) reports it, except that a
    /// whole message is borrowed from the connection rather than owned, together with a
    /// [`Responder`] to answer it with while it is borrowed.
    ///
    /// This is the fastest way to read: a message that arrived in one frame is handed out
    /// where it lies in the receive buffer, with no reference counting and no copy. The borrow
    /// lasts until the next call on the connection.
    ///
    /// ```
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Event, EventRef, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default());
    /// // A masked "Hi" and a Ping, in one read.
    /// server.receive(&[0x81, 0x82, 0, 0, 0, 0, b'H', b'i', 0x89, 0x80, 0, 0, 0, 0]);
    /// let mut seen = Vec::new();
    /// while let Some(next) = server.poll_event_ref() {
    ///     match next? {
    ///         (EventRef::Text(text), mut responder) => responder.send_text(text)?,
    ///         (EventRef::Other(Event::Ping(_)), _) => seen.push("ping"), // Pong already queued
    ///         (other, _) => panic!("{other:?}"),
    ///     }
    /// }
    /// assert_eq!(seen, ["ping"]);
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out);
    /// assert_eq!(out, [0x8a, 0x00, 0x81, 0x02, b'H', b'i']); // the Pong goes first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn poll_event_ref(
        &mut self,
    ) -> Option<Result<(EventRef<'_>, Responder<'_, R>), ProtocolError>> {
        let found = self.poll_lendable()?;
        Some(found.and_then(|lendable| self.lend(lendable)))
    }

    /// Reads `bytes` where they lie, in the caller's buffer, rather than copying them into the
    /// connection: whole messages are lent from `bytes` (unmasked in place), and only what
    /// does not make up a whole frame is copied in, when the returned [`InPlace`] is dropped.
    ///
    /// The events are exactly those of [`receive`](Connection::receive) followed by
    /// [`poll_event_ref`](Connection::poll_event_ref); this is the zero-copy way to read
    /// from a buffer that an event loop reuses for every connection, so that a connection
    /// whose reads end on frame boundaries never holds a receive buffer of its own.
    ///
    /// ```
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, EventRef, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default());
    /// // One read: a masked "Hi", then the first 3 bytes of the next frame.
    /// let mut read = [0x81, 0x82, 0, 0, 0, 0, b'H', b'i', 0x81, 0x82, 0];
    /// let mut input = server.receive_in_place(&mut read);
    /// while let Some(next) = input.poll_event_ref() {
    ///     if let (EventRef::Text(text), mut responder) = next? {
    ///         responder.send_text(text)?; // echoed from the caller's buffer
    ///     }
    /// }
    /// drop(input); // the 3 bytes of the incomplete frame are kept by the connection
    /// assert_eq!(server.receiver_buffered(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receive_in_place<'a>(&'a mut self, bytes: &'a mut [u8]) -> InPlace<'a, R> {
        self.settle_failure();
        InPlace::new(self, bytes)
    }

    /// The first half of [`poll_event_ref`](Connection::poll_event_ref): finds the next event
    /// without borrowing it yet.
    #[inline]
    fn poll_lendable(&mut self) -> Option<Result<Lendable, ProtocolError>> {
        self.settle_failure();
        if matches!(self.state, State::Open) && self.failed_with.is_none() {
            self.receiver.settle();
            if let Some(frame) = self.receiver.take_short_frame() {
                // The common case: a whole message in one short frame, lent where it lies.
                self.receiver.lend_short_frame(&frame);
                return Some(Ok(Lendable::Short(frame)));
            }
        }
        let ready = match self.state {
            State::Open => {
                let ready = self.poll_open(Receiver::poll_ready);
                self.forward_replies();
                ready
            }
            _ => self.poll_event().map(|result| result.map(Ready::Event)),
        };
        Some(ready?.map(Lendable::Ready))
    }

    /// The second half of [`poll_event_ref`](Connection::poll_event_ref): the event, borrowed.
    #[allow(clippy::type_complexity)]
    #[inline]
    fn lend(
        &mut self,
        lendable: Lendable,
    ) -> Result<(EventRef<'_>, Responder<'_, R>), ProtocolError> {
        match lendable {
            Lendable::Short(frame) => {
                let payload = &self.receiver.buffer()[frame.header_len..frame.frame_len];
                let event = if !frame.text {
                    EventRef::Binary(payload)
                } else if let Ok(text) = crate::frame::validate_short(payload) {
                    EventRef::Text(text)
                } else {
                    // The payload stays borrowed on this path, so the receiver fails at the
                    // next call (`settle_failure`); the Close goes out now.
                    let error = ProtocolError::Utf8(crate::frame::whole_message_error(payload));
                    self.failed_with = error.close_code();
                    self.sender.send_reply(Reply::Close(error.close_code()));
                    return Err(error);
                };
                Ok((event, Responder::new(Ok(&mut self.sender))))
            }
            Lendable::Ready(ready) => {
                let usable = self.send_check();
                let event = self.receiver.lend(ready);
                Ok((event, Responder::new(usable.map(|()| &mut self.sender))))
            }
        }
    }

    fn poll_request(&mut self) -> Option<Result<Event, ProtocolError>> {
        let State::AwaitingRequest(config) = &self.state else { return None };
        let parsed = Request::parse(&self.receiver.buf, &config.handshake);
        let (request, head_len) = match parsed {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Incomplete { .. }) => return self.handshake_eof(),
            Err(error) => return Some(Err(self.refuse(error))),
        };
        bytes::Buf::advance(&mut self.receiver.buf, head_len);
        self.receiver.release_if_empty();
        if let State::AwaitingRequest(config) = core::mem::replace(&mut self.state, State::Open) {
            self.state = State::AwaitingDecision(config);
        }
        Some(match request.classify() {
            Ok(Incoming::WebSocket(upgrade)) => Ok(Event::Request(Box::new(upgrade))),
            Ok(Incoming::Http(request)) => Ok(Event::HttpRequest(Box::new(request))),
            Err(error) => Err(self.refuse(error)),
        })
    }

    /// Answers an invalid request with its rejection and ends the connection.
    fn refuse(&mut self, error: crate::handshake::RequestError) -> ProtocolError {
        let mut response = Vec::new();
        error.rejection().write(&mut response);
        self.sender.queue_raw(response);
        self.state = State::Refused;
        error.into()
    }

    fn poll_response(&mut self) -> Option<Result<Event, ProtocolError>> {
        let State::AwaitingResponse(pending) = &self.state else { return None };
        match pending.0.read_response(&self.receiver.buf) {
            Ok(Status::Complete((accepted, head_len))) => {
                bytes::Buf::advance(&mut self.receiver.buf, head_len);
                self.receiver.release_if_empty();
                let config = match core::mem::replace(&mut self.state, State::Open) {
                    State::AwaitingResponse(pending) => pending.1,
                    _ => Config::default(),
                };
                self.set_negotiated(accepted.negotiated().clone(), &config);
                Some(Ok(Event::Accepted(Box::new(accepted))))
            }
            Ok(Status::Incomplete { .. }) => self.handshake_eof(),
            Err(error) => {
                self.state = State::Refused;
                Some(Err(error.into()))
            }
        }
    }

    /// The transport ended during the handshake: the connection never opened.
    fn handshake_eof(&mut self) -> Option<Result<Event, ProtocolError>> {
        if !self.receiver.is_eof() {
            return None;
        }
        self.state = State::Closed { clean: false };
        Some(Ok(Event::Closed(Closed { code: CloseCode::ABNORMAL_CLOSURE, clean: false })))
    }

    /// The next event of an open connection, found by `poll` (owned or borrowed), with the
    /// connection's own bookkeeping: a failure is remembered, the end moves the state, and the
    /// closing handshake completes once both Closes have passed (§7.1.4).
    fn poll_open<T: Polled>(
        &mut self,
        poll: impl FnOnce(&mut Receiver) -> Option<Result<T, ProtocolError>>,
    ) -> Option<Result<T, ProtocolError>> {
        if self.failed_with.is_some() {
            return self.finish(false).map(|end| end.map(T::from));
        }
        match poll(&mut self.receiver) {
            Some(Err(error)) => {
                self.failed_with = error.close_code();
                Some(Err(error))
            }
            Some(Ok(polled)) => {
                if let Some(clean) = polled.closed_clean() {
                    self.state = State::Closed { clean };
                }
                Some(Ok(polled))
            }
            None if self.receiver.close_received() && self.sender.close_sent() => {
                self.finish(true).map(|end| end.map(T::from))
            }
            None => None,
        }
    }

    /// Reports the end once.
    fn finish(&mut self, clean: bool) -> Option<Result<Event, ProtocolError>> {
        self.state = State::Closed { clean };
        let code = match (self.failed_with, self.receiver.peer_close_code()) {
            (Some(code), _) => code,
            (None, Some(code)) => code,
            (None, None) => CloseCode::ABNORMAL_CLOSURE,
        };
        Some(Ok(Event::Closed(Closed { code, clean })))
    }

    /// Fails the receiver after `poll_event_ref` reported invalid text it could not fail it
    /// for (the text was still borrowed).
    fn settle_failure(&mut self) {
        if self.failed_with.is_some() {
            self.receiver.fail_quietly();
        }
    }

    fn forward_replies(&mut self) {
        while let Some(reply) = self.receiver.poll_reply() {
            self.sender.send_reply(reply);
        }
    }

    // ----- commands -----

    /// Server: accepts the request reported by [`Event::Request`] with the response built by
    /// [`UpgradeRequest::accept`](crate::handshake::UpgradeRequest::accept); the 101 is queued
    /// and the connection is open.
    pub fn accept(&mut self, accept: Accept<'_>) -> Result<(), AcceptError> {
        let config = match &self.state {
            State::AwaitingRequest(config) | State::AwaitingDecision(config) => **config,
            _ => Config::default(),
        };
        #[cfg(feature = "deflate")]
        let accept = match &config.deflate {
            Some(deflate) => accept.with_deflate(deflate),
            None => accept,
        };
        let mut response = Vec::new();
        let negotiated = accept.write(&mut response)?;
        self.sender.queue_raw(response);
        self.state = State::Open;
        self.set_negotiated(negotiated, &config);
        Ok(())
    }

    /// Server: answers the request with any other response (a 403 for a bad origin, a page
    /// for a plain HTTP request); the transport should then close.
    pub fn reject(&mut self, response: &Rejection) {
        let mut bytes = Vec::new();
        response.write(&mut bytes);
        self.sender.queue_raw(bytes);
        self.state = State::Refused;
        self.receiver.release_all();
    }

    fn open_sender(&mut self) -> Result<&mut Sender<R>, SendError> {
        self.send_check()?;
        Ok(&mut self.sender)
    }

    /// Whether messages can be sent now.
    fn send_check(&self) -> Result<(), SendError> {
        match self.state {
            State::Open if self.failed_with.is_none() => Ok(()),
            State::Open | State::Closed { .. } => Err(SendError::Closing),
            _ => Err(SendError::NotOpen),
        }
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.open_sender()?.send_text(text)
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.open_sender()?.send_binary(data)
    }

    /// Queues a message, choosing whether to compress it; see [`Sender::send_message`].
    pub fn send_message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        self.open_sender()?.send_message(kind, payload, compress)
    }

    /// Queues a Ping (at most 125 bytes, §5.5.2); the caller measures the round trip.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.open_sender()?.send_ping(payload)
    }

    /// Queues an unsolicited Pong, a one-way heartbeat (§5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.open_sender()?.send_pong(payload)
    }

    /// Starts the closing handshake (§7.1.2): queues a Close; no message can follow. To refuse
    /// a kind of data, close with [`CloseCode::UNSUPPORTED_DATA`] (1003); to refuse a message
    /// for policy, [`CloseCode::POLICY_VIOLATION`] (1008).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.open_sender()?.send_close(code, reason)
    }

    /// Starts a message sent in pieces; see [`Sender::begin_message`].
    pub fn begin_message(
        &mut self,
        kind: MessageKind,
        first_piece: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.open_sender()?.begin_message(kind, first_piece, last)
    }

    /// Sends the next piece of a message begun with [`begin_message`](Connection::begin_message).
    pub fn send_piece(&mut self, piece: &[u8], last: bool) -> Result<(), SendError> {
        self.open_sender()?.send_piece(piece, last)
    }

    // ----- outputs -----

    /// Appends every byte waiting to be written to `out` (control frames ahead of queued data)
    /// and returns how many.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.forward_replies();
        self.sender.poll_transmit(out)
    }

    /// Splits an open connection into halves that separate tasks or threads can own without a
    /// lock; the caller forwards [`Receiver::poll_reply`] values to [`Sender::send_reply`].
    pub fn split(self) -> (Receiver, Sender<R>) {
        (self.receiver, self.sender)
    }
}

/// An event found by [`Connection::poll_lendable`], to be lent by [`Connection::lend`].
enum Lendable {
    /// A whole message in one short frame, at the front of the receive buffer.
    Short(ShortFrame),
    /// Anything else the receiver found.
    Ready(Ready),
}

/// What an open connection's poll reports, owned or borrowed.
trait Polled: From<Event> {
    /// Whether the end was clean, if this is the end.
    fn closed_clean(&self) -> Option<bool>;
}

impl Polled for Event {
    fn closed_clean(&self) -> Option<bool> {
        match self {
            Event::Closed(closed) => Some(closed.clean),
            _ => None,
        }
    }
}

impl Polled for Ready {
    fn closed_clean(&self) -> Option<bool> {
        match self {
            Ready::Event(event) => event.closed_clean(),
            _ => None,
        }
    }
}
