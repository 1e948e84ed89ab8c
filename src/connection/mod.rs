//! The connection state machine (RFC 6455 §4–§8): one type for both roles, from the opening
//! handshake to the end.

mod clock;
#[cfg(feature = "deflate")]
mod compression;
mod in_place;
mod lifecycle;
mod prepared;
mod reader;
mod receiver;
mod sender;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use bytes::Buf;

use clock::Clock;
pub use in_place::InPlace;
use lifecycle::{Action, Lifecycle, Phase, TimerFamily};
pub use lifecycle::{CloseCause, Closed, Command, State};
pub use prepared::PreparedMessage;
use reader::{Reader, Ready, ShortFrame};
pub use receiver::Receiver;
pub use sender::{Reply, Sender};

use crate::error::{CommandError, ProtocolError};
use crate::event::{Event, EventRef};
use crate::frame::{CloseCode, Status};
use crate::handshake::{
    Accept, ClientHandshake, Incoming, Negotiated, Rejection, Request, RequestBuildError,
};
use crate::random::RandomSource;
use crate::time::{DefaultTimestamp, Timestamp};
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
    fn fill_bytes(&mut self, _dest: &mut [u8]) {
        unreachable!("a server never masks (§5.3) nor makes a handshake key, and only a server has ServerOnly")
    }
}

/// A random draw (0 to 65,535) from `random` for the part of [`Config::keepalive_jitter`]
/// that shortens this connection's keepalive interval, or 0 when either is off.
fn keepalive_spread<R: RandomSource>(config: &Config, random: &mut R) -> u16 {
    if config.keepalive_interval.is_none() || config.keepalive_jitter.is_none() {
        return 0;
    }
    let mut draw = [0; 2];
    random.fill_bytes(&mut draw);
    u16::from_le_bytes(draw)
}

/// A WebSocket connection for either role, as a sans-IO state machine.
///
/// Methods come in five groups, in the manner of quinn-proto:
/// - inputs: [`receive`](Connection::receive) the bytes that arrived, in any chunking, and
///   [`receive_eof`](Connection::receive_eof) when the transport ended;
/// - events: [`poll_event`](Connection::poll_event) until it returns `None`; every
///   connection ends with exactly one [`Event::Closed`];
/// - commands: [`accept`](Connection::accept) / [`reject`](Connection::reject) a handshake,
///   and everything that sends through [`sender`](Connection::sender): messages, Pings,
///   [`close`](Sender::close);
/// - time: [`handle_timeout`](Connection::handle_timeout) when
///   [`poll_timeout`](Connection::poll_timeout) says: the connection keeps its deadlines
///   (handshake, keepalive, idle, closing) and the caller's clock measures them;
/// - outputs: [`poll_transmit`](Connection::poll_transmit) the bytes to write, and
///   [`should_close_transport`](Connection::should_close_transport) when to close.
///
/// Where the connection is in its life is one value, [`state`](Connection::state); every
/// getter derives from it, and a command it does not allow fails with
/// [`CommandError::NotAllowed`], naming it.
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::ClientHandshake;
/// use wsmachine::{Config, Connection, Event};
///
/// let now = Instant::now();
/// let mut server = Connection::server(Config::default(), now);
/// let mut client = Connection::client(ClientHandshake::new("ws://localhost/chat")?, Config::default(), now)?;
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
/// server.sender().send_text("hello")?;
/// server.poll_transmit(&mut wire);
/// client.receive(&wire);
/// wire.clear();
/// assert!(matches!(client.poll_event(), Some(Ok(Event::Accepted(_)))));
/// let Some(Ok(Event::Text(text))) = client.poll_event() else { panic!() };
/// assert_eq!(text.as_str(), "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Connection<R = DefaultRandom, T = DefaultTimestamp> {
    /// Every command that sends, the output, and the connection's one lifecycle value,
    /// which every command checks there.
    sender: Sender<R>,
    reader: Reader,
    clock: Clock<T>,
    /// What the handshake negotiated, if anything.
    negotiated: Option<Box<Negotiated>>,
}

#[cfg(feature = "std")]
impl<T: Timestamp> Connection<crate::OsSeededRandom, T> {
    /// A server connection created at `now`, waiting for the client's opening handshake.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::{Config, Connection, State};
    ///
    /// let server = Connection::server(Config::default(), Instant::now());
    /// assert_eq!(server.state(), State::AwaitingRequest);
    /// ```
    #[must_use]
    pub fn server(config: Config, now: T) -> Self {
        Connection::server_with(config, crate::OsSeededRandom::new(), now)
    }

    /// A client connection created at `now`, whose opening handshake request is already
    /// queued for output, with keys from the operating system's randomness.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::ClientHandshake;
    /// use wsmachine::{Config, Connection, State};
    ///
    /// let mut client = Connection::client(ClientHandshake::new("ws://localhost/")?, Config::default(), Instant::now())?;
    /// let mut request = Vec::new();
    /// client.poll_transmit(&mut request);
    /// assert!(request.starts_with(b"GET / HTTP/1.1\r\n"));
    /// assert_eq!(client.state(), State::AwaitingResponse);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client(
        handshake: ClientHandshake,
        config: Config,
        now: T,
    ) -> Result<Self, RequestBuildError> {
        Connection::client_with(handshake, config, crate::OsSeededRandom::new(), now)
    }

    /// A connection already open at `now` after a handshake done elsewhere (a hyper upgrade,
    /// an HTTP/2 extended CONNECT), given this end's role and what was negotiated.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Role};
    ///
    /// let connection = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// assert!(connection.is_open());
    /// ```
    #[must_use]
    pub fn open(role: Role, negotiated: Negotiated, config: Config, now: T) -> Self {
        Connection::open_with(role, negotiated, config, crate::OsSeededRandom::new(), now)
    }
}

#[cfg(not(feature = "std"))]
impl<T: Timestamp> Connection<ServerOnly, T> {
    /// A server connection created at `now`, waiting for the client's opening handshake.
    #[must_use]
    pub fn server(config: Config, now: T) -> Self {
        // No randomness for the keepalive jitter: the interval stays exact.
        Connection::server_spread(config, ServerOnly(()), now, 0)
    }
}

impl<R: RandomSource, T: Timestamp> Connection<R, T> {
    /// A server connection created at `now` with `random` as its randomness, which a server
    /// uses only to spread its keepalive interval ([`Config::keepalive_jitter`]; it never
    /// masks); for a connection type shared with clients, or a server without `std`.
    #[must_use]
    pub fn server_with(config: Config, mut random: R, now: T) -> Self {
        let spread = keepalive_spread(&config, &mut random);
        Connection::server_spread(config, random, now, spread)
    }

    /// A server connection whose keepalive interval is shortened by `spread` parts in 65,536
    /// of [`Config::keepalive_jitter`].
    fn server_spread(config: Config, random: R, now: T, spread: u16) -> Self {
        Connection {
            reader: Reader::new(Role::Server, &config),
            sender: Sender::new(Lifecycle::server(config), Role::Server, random, &config),
            clock: Clock::new(&config, now, TimerFamily::Handshake, spread),
            negotiated: None,
        }
    }

    /// A client connection created at `now` with keys from `random`; its request is queued
    /// for output (see [`Connection::client`]).
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::handshake::ClientHandshake;
    /// use wsmachine::{Config, Connection};
    ///
    /// // Without std: a clock of one's own (here a Duration since boot) and randomness.
    /// let random = |buf: &mut [u8]| buf.fill(7); // use a real source!
    /// let handshake = ClientHandshake::new("ws://localhost/")?;
    /// let client = Connection::client_with(handshake, Config::default(), random, Duration::ZERO)?;
    /// assert!(!client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_with(
        handshake: ClientHandshake,
        config: Config,
        mut random: R,
        now: T,
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
        let spread = keepalive_spread(&config, &mut random);
        let mut sender =
            Sender::new(Lifecycle::client(pending, config), Role::Client, random, &config);
        sender.queue_raw(request);
        Ok(Connection {
            reader: Reader::new(Role::Client, &config),
            sender,
            clock: Clock::new(&config, now, TimerFamily::Handshake, spread),
            negotiated: None,
        })
    }

    /// An open connection with keys from `random` (see [`Connection::open`]).
    pub fn open_with(
        role: Role,
        negotiated: Negotiated,
        config: Config,
        mut random: R,
        now: T,
    ) -> Self {
        let spread = keepalive_spread(&config, &mut random);
        let mut connection = Connection {
            reader: Reader::new(role, &config),
            sender: Sender::new(Lifecycle::open(), role, random, &config),
            clock: Clock::new(&config, now, TimerFamily::Open, spread),
            negotiated: None,
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
            let (outgoing, incoming) = compression::directions(&params, self.role());
            let deflate = config.deflate.unwrap_or_default();
            self.sender.enable_deflate(compression::Deflate::new(outgoing, &deflate));
            self.reader.enable_inflate(compression::Inflate::new(incoming));
            rsv = crate::frame::Rsv::RSV1;
        }
        self.reader.set_allowed_rsv(rsv);
        self.negotiated = (negotiated != Negotiated::default()).then(|| Box::new(negotiated));
    }

    // ----- getters: all derive from the one lifecycle value -----

    /// This end's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.sender.role()
    }

    /// Where the connection is in its life.
    #[must_use]
    pub fn state(&self) -> State {
        self.sender.lifecycle().state()
    }

    /// Whether messages can flow both ways: the handshake is done and no Close was sent or
    /// received ([`State::Open`]).
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.sender.lifecycle().phase(), Phase::Open)
    }

    /// How the connection ended, once it has (reported, or about to be, by
    /// [`Event::Closed`]).
    #[must_use]
    pub fn closed(&self) -> Option<Closed> {
        self.sender.lifecycle().closed()
    }

    /// Whether the caller should close the transport once the output is written: after a
    /// refused or failed handshake, after the closing handshake on a server (§7.1.1: the
    /// server closes first) or on a client once the server closed or
    /// [`Config::transport_close_timeout`] passed, after the peer's EOF, after a deadline, or
    /// after this end failed the connection.
    #[must_use]
    pub fn should_close_transport(&self) -> bool {
        self.sender.lifecycle().should_close_transport()
    }

    /// What the handshake negotiated (empty before it completes).
    #[must_use]
    pub fn negotiated(&self) -> &Negotiated {
        static NOTHING: Negotiated = Negotiated::NOTHING;
        self.negotiated.as_deref().unwrap_or(&NOTHING)
    }

    /// Bytes received and not yet turned into events: bounded by the frame and message limits
    /// (and, when streaming, by what arrived since the last poll).
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.reader.buffered_len()
    }

    /// Bytes waiting to be written: the backpressure signal.
    #[must_use]
    pub fn buffered_output(&self) -> usize {
        self.sender.buffered_output()
    }

    // ----- time -----

    /// Once the transport should close, how long output still unwritten may wait for the
    /// peer to take it before the transport is closed anyway: nothing after a deadline ended
    /// the connection (the peer is gone, or too slow), else [`Config::close_timeout`] (10 s
    /// when that is off). Event loops and adapters give up on the rest then.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{CloseCause, Config, Connection, Role};
    ///
    /// let start = Instant::now();
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), start);
    /// assert_eq!(server.output_linger(), Duration::from_secs(10), "the close deadline");
    /// server.handle_timeout(start); // arms the keepalive Ping (20 s) and its Pong deadline
    /// server.handle_timeout(start + Duration::from_secs(20));
    /// server.handle_timeout(start + Duration::from_secs(40));
    /// assert_eq!(server.closed().unwrap().cause, CloseCause::PongTimeout);
    /// assert_eq!(server.output_linger(), Duration::ZERO, "the peer is gone: no waiting");
    /// ```
    #[must_use]
    pub fn output_linger(&self) -> core::time::Duration {
        self.clock.output_linger(self.closed().map(|closed| closed.cause))
    }

    /// When [`handle_timeout`](Connection::handle_timeout) should next be called, on the clock
    /// the connection was given: the next deadline, a time already past when one must be
    /// armed from the current time (just after the connection opened or a Close went out),
    /// or `None` when no deadline applies.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsmachine::{Config, Connection};
    ///
    /// let start = Instant::now();
    /// let server = Connection::server(Config::default(), start);
    /// assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(10))); // the handshake's
    /// ```
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.clock.poll_timeout(self.sender.lifecycle().timer_family())
    }

    /// Tells the connection the time: deadlines that passed by `now` take effect (a keepalive
    /// Ping is queued, an unanswered one or an unfinished handshake ends the connection with
    /// an [`Event::Closed`] that says why, an idle connection is closed with 1001, a closing
    /// handshake that took too long is given up), and the next deadlines are armed.
    ///
    /// Call it when [`poll_timeout`](Connection::poll_timeout) falls due; calling it more often
    /// is harmless. Input is dated by the `now` of the next call, so a caller that passes `now`
    /// after each read has exact idle and keepalive deadlines, and one that only passes it
    /// when they fall due may see them come up to one period late (never early).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsmachine::{CloseCause, Config, Connection, Event};
    ///
    /// let start = Instant::now();
    /// let mut server = Connection::server(Config::default(), start);
    /// server.receive(b"GET / HTTP/1.1\r\n"); // and then nothing
    /// server.handle_timeout(start + Duration::from_secs(10));
    /// let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    /// assert_eq!(closed.cause, CloseCause::HandshakeTimeout);
    /// assert!(server.should_close_transport());
    /// ```
    pub fn handle_timeout(&mut self, now: T) {
        // A deadline that passes moves the lifecycle; the next round arms the new phase's
        // deadline from the same `now`. Two rounds suffice; the bound guards the loop.
        for _ in 0..4 {
            let family = self.sender.lifecycle().timer_family();
            let passed = self.clock.handle_timeout(now, family);
            let Some(passed) = passed else { return };
            if let Some(action) = self.sender.lifecycle_mut().deadline_passed(passed) {
                if action == Action::Ping {
                    // A keepalive interval has passed: give back what an idle connection need
                    // not hold, as `release_buffers` does (once an interval on a busy one).
                    self.release_buffers();
                }
                self.sender.act(action);
            }
        }
    }

    // ----- inputs -----

    /// Takes the bytes that arrived from the peer, in any chunking. Once the connection is
    /// over, input is discarded: nothing reads it.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Event, Role};
    ///
    /// let mut client = Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
    /// client.receive(&[0x81, 0x02, b'h']); // half of a frame...
    /// assert!(client.poll_event().is_none());
    /// client.receive(&[b'i']); // ...and the rest
    /// assert!(matches!(client.poll_event(), Some(Ok(Event::Text(_)))));
    /// ```
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.sender.lifecycle().is_over() {
            self.reader.receive(bytes);
            self.clock.note_input();
        }
    }

    /// The receive buffer, for an adapter to read into directly while the connection is busy
    /// (it holds a receive buffer, which an idle connection does not), with room in it and the
    /// most the read should take (`usize::MAX`: no limit; see `Reader::buffer_for_input` for
    /// `room`, `max_read` and the limit): what it appends must be bytes that arrived, and
    /// [`note_input`](Connection::note_input) must follow. `None` once input is no longer read
    /// (the connection is over, or the transport ended).
    #[cfg(feature = "tokio")]
    pub(crate) fn receive_buffer(
        &mut self,
        room: usize,
        max_read: usize,
    ) -> Option<(&mut bytes::BytesMut, usize)> {
        if self.sender.lifecycle().is_over() {
            return None;
        }
        self.reader.buffer_for_input(room, max_read)
    }

    /// Notes that bytes were appended to the [`receive_buffer`](Connection::receive_buffer).
    #[cfg(feature = "tokio")]
    pub(crate) fn note_input(&mut self) {
        self.clock.note_input();
    }

    /// Records that the peer closed the transport. Without a closing handshake first, the end
    /// is reported as abnormal closure (1006, §7.1.5) once the frames before it are read.
    pub fn receive_eof(&mut self) {
        self.reader.receive_eof();
        if self.sender.lifecycle().is_over() {
            self.sender.lifecycle_mut().input_ended();
        }
    }

    /// Reads `bytes` where they lie, in the caller's buffer, rather than copying them into the
    /// connection: whole messages are lent from `bytes` (unmasked in place), and only what
    /// does not make up a whole frame is copied in, when the returned [`InPlace`] is dropped.
    ///
    /// The events are exactly those of [`receive`](Connection::receive) followed by
    /// [`poll_event_ref`](Connection::poll_event_ref): the zero-copy way to read from a buffer
    /// that an event loop reuses for every connection, so that a connection whose reads end
    /// on frame boundaries never holds a receive buffer of its own.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, EventRef, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// // One read: a masked "Hi", then the first 3 bytes of the next frame.
    /// let mut read = [0x81, 0x82, 0, 0, 0, 0, b'H', b'i', 0x81, 0x82, 0];
    /// let mut input = server.receive_in_place(&mut read);
    /// while let Some(next) = input.poll_event_ref() {
    ///     if let (EventRef::Text(text), sender) = next? {
    ///         sender.send_text(text)?; // echoed from the caller's buffer
    ///     }
    /// }
    /// drop(input); // the 3 bytes of the incomplete frame are kept by the connection
    /// assert_eq!(server.buffered_input(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receive_in_place<'a>(&'a mut self, bytes: &'a mut [u8]) -> InPlace<'a, R, T> {
        if !bytes.is_empty() {
            self.clock.note_input();
        }
        InPlace::new(self, bytes)
    }

    // ----- events -----

    /// The next event, or `None` until more input arrives; this is the way to read. Replies
    /// the peer is owed (Pongs, the Close reply) are queued for output as a side effect.
    ///
    /// A protocol error is returned once, its Close queued (§7.1.7); then [`Event::Closed`]
    /// follows, and nothing after it.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::frame::CloseCode;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Event, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// server.receive(&[0x81, 0x80, 0, 0, 0, 0]); // an empty masked text frame
    /// server.receive(&[0x81, 0x00]); // an unmasked one: a protocol error (§5.1)
    /// assert!(matches!(server.poll_event(), Some(Ok(Event::Text(_)))));
    /// assert!(matches!(server.poll_event(), Some(Err(_))));
    /// let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    /// assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR);
    /// assert!(server.poll_event().is_none());
    /// ```
    pub fn poll_event(&mut self) -> Option<Result<Event, ProtocolError>> {
        if self.sender.lifecycle().reads_frames() {
            // The common case, a whole message in one short frame, without the general loop.
            if let Some(event) = self.reader.short_frame_event() {
                return Some(Ok(event));
            }
            let polled = self.reader.poll_event();
            return self.settle_read(polled);
        }
        match self.sender.lifecycle().phase() {
            Phase::AwaitingRequest => self.poll_request(),
            Phase::AwaitingResponse => self.poll_response(),
            Phase::AwaitingDecision | Phase::Open | Phase::CloseSent(_) => None,
            Phase::Over(_) => self.report_end(),
        }
    }

    /// The common case of [`poll_event`](Connection::poll_event) alone: a whole text or
    /// binary message in one short frame at the front of the buffer, as a [`Message`]; `None`
    /// for anything else (which `poll_event` then reports). The adapters' owned-message fast
    /// path.
    #[inline]
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn poll_short_message(&mut self) -> Option<crate::Message> {
        if !self.sender.lifecycle().reads_frames() {
            return None;
        }
        self.reader.short_frame_message()
    }

    /// The next event as [`poll_event`](Connection::poll_event) reports it, except that a
    /// whole message is borrowed from the connection rather than owned, together with the
    /// [`Sender`] to answer it with while it is borrowed. Zero copy: a message that arrived in
    /// one frame is handed out where it lies in the receive buffer, with no reference count
    /// and no copy; the borrow lasts until the next call on the connection.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Event, EventRef, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// // A masked "Hi" and a Ping, in one read.
    /// server.receive(&[0x81, 0x82, 0, 0, 0, 0, b'H', b'i', 0x89, 0x80, 0, 0, 0, 0]);
    /// let mut seen = Vec::new();
    /// while let Some(next) = server.poll_event_ref() {
    ///     match next? {
    ///         (EventRef::Text(text), sender) => sender.send_text(text)?,
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
    ) -> Option<Result<(EventRef<'_>, &mut Sender<R>), ProtocolError>> {
        let found = self.poll_lendable()?;
        Some(found.map(|lendable| self.lend(lendable)))
    }

    /// The first half of [`poll_event_ref`](Connection::poll_event_ref): finds the next event
    /// without borrowing it yet.
    #[inline]
    pub(crate) fn poll_lendable(&mut self) -> Option<Result<Lendable, ProtocolError>> {
        if self.sender.lifecycle().reads_frames() {
            // What the last event lent stays in the buffer, read, until the general path
            // drops it with the short frames taken since (`Reader::settle`).
            self.reader.settle_stash();
            if let Some(frame) = self.reader.take_valid_short_frame() {
                // The common case: a whole message in one short frame, lent where it lies
                // (its text checked here, so that lending it cannot fail).
                self.reader.lend_short_frame(&frame);
                return Some(Ok(Lendable::Short(frame)));
            }
            let polled = self.reader.poll_ready();
            return self.settle_read(polled).map(|found| found.map(Lendable::Ready));
        }
        self.poll_event().map(|found| found.map(|event| Lendable::Ready(Ready::Event(event))))
    }

    /// The second half of [`poll_event_ref`](Connection::poll_event_ref): the event, borrowed.
    /// Text was validated when it was found; it is checked again here because the crate
    /// forbids `unsafe` (as in [`Text::as_str`](crate::Text::as_str)).
    #[inline]
    pub(crate) fn lend(&mut self, lendable: Lendable) -> (EventRef<'_>, &mut Sender<R>) {
        let event = match lendable {
            Lendable::Short(frame) => {
                let payload = &self.reader.buffer()[frame.header_len..frame.frame_len];
                if frame.text {
                    EventRef::Text(crate::frame::validate_short(payload).unwrap_or_default())
                } else {
                    EventRef::Binary(payload)
                }
            }
            Lendable::Ready(ready) => self.reader.lend(ready),
        };
        (event, &mut self.sender)
    }

    /// Applies what the reader found to the lifecycle at once (see [`apply_read`]) and sends
    /// what that obliges, with the Pong a Ping is owed.
    #[inline]
    fn settle_read<E: Polled>(
        &mut self,
        polled: Option<Result<E, ProtocolError>>,
    ) -> Option<Result<E, ProtocolError>> {
        let (result, action) = apply_read(self.sender.lifecycle_mut(), &mut self.reader, polled);
        if let Some(action) = action {
            self.sender.act(action);
        }
        if self.reader.take_pong_seen() {
            self.clock.note_pong();
        }
        if let Some(pong) = self.reader.take_pong() {
            self.sender.queue_pong(pong);
        }
        result
    }

    /// Reports the end, once.
    fn report_end(&mut self) -> Option<Result<Event, ProtocolError>> {
        report_end(self.sender.lifecycle_mut(), &mut self.reader)
    }

    fn poll_request(&mut self) -> Option<Result<Event, ProtocolError>> {
        let limits = self.sender.lifecycle().handshake_config()?.handshake;
        let (request, head_len) = match Request::parse(&self.reader.buf, &limits) {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Incomplete { .. }) => return self.handshake_input_ended(),
            Err(error) => return Some(Err(self.refuse(error))),
        };
        self.reader.buf.advance(head_len);
        self.reader.release_if_empty();
        self.sender.lifecycle_mut().request_read();
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
        self.sender.lifecycle_mut().handshake_failed();
        error.into()
    }

    fn poll_response(&mut self) -> Option<Result<Event, ProtocolError>> {
        let pending = self.sender.lifecycle().pending_handshake()?;
        match pending.read_response(&self.reader.buf) {
            Ok(Status::Complete((accepted, head_len))) => {
                self.reader.buf.advance(head_len);
                self.reader.release_if_empty();
                let Some(config) = self.sender.lifecycle_mut().response_accepted() else {
                    unreachable!("the phase was AwaitingResponse a moment ago");
                };
                self.set_negotiated(accepted.negotiated().clone(), &config);
                Some(Ok(Event::Accepted(Box::new(accepted))))
            }
            Ok(Status::Incomplete { .. }) => self.handshake_input_ended(),
            Err(error) => {
                self.sender.lifecycle_mut().handshake_failed();
                Some(Err(error.into()))
            }
        }
    }

    /// The transport ended during the handshake: the connection never opened.
    fn handshake_input_ended(&mut self) -> Option<Result<Event, ProtocolError>> {
        if !self.reader.is_eof() {
            return None;
        }
        self.sender.lifecycle_mut().input_ended();
        self.report_end()
    }

    // ----- commands -----

    /// Server: accepts the request reported by [`Event::Request`] with the response built by
    /// [`UpgradeRequest::accept`](crate::handshake::UpgradeRequest::accept); the 101 is queued
    /// and the connection is open. Only once, and only after the request was reported.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::ClientHandshake;
    /// use wsmachine::{Command, CommandError, Config, Connection, Event, State};
    ///
    /// let mut client = Connection::client(ClientHandshake::new("ws://localhost/")?, Config::default(), Instant::now())?;
    /// let mut server = Connection::server(Config::default(), Instant::now());
    /// let mut request = Vec::new();
    /// client.poll_transmit(&mut request);
    /// server.receive(&request);
    /// let Some(Ok(Event::Request(upgrade))) = server.poll_event() else { panic!() };
    /// server.accept(upgrade.accept())?;
    /// assert_eq!(
    ///     server.accept(upgrade.accept()),
    ///     Err(CommandError::NotAllowed { command: Command::Accept, state: State::Open }),
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept(&mut self, accept: Accept<'_>) -> Result<(), CommandError> {
        self.sender.lifecycle().check(Command::Accept)?;
        let Some(&config) = self.sender.lifecycle().handshake_config() else {
            unreachable!("accept is allowed only while the handshake is under way");
        };
        #[cfg(feature = "deflate")]
        let accept = match &config.deflate {
            Some(deflate) => accept.with_deflate(deflate),
            None => accept,
        };
        let mut response = Vec::new();
        let negotiated = accept.write(&mut response)?;
        self.sender.lifecycle_mut().accept()?;
        self.sender.queue_raw(response);
        self.set_negotiated(negotiated, &config);
        Ok(())
    }

    /// Server: answers the request with any other response (a 403 for a bad origin, a page
    /// for a plain HTTP request), before or after the request was reported; the transport
    /// should then close, and [`Event::Closed`] follows.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Rejection;
    /// use wsmachine::{CloseCause, Config, Connection, Event};
    ///
    /// let mut server = Connection::server(Config::default(), Instant::now());
    /// server.reject(&Rejection::new(503).with_body("full\n"))?;
    /// let Some(Ok(Event::Closed(closed))) = server.poll_event() else { panic!() };
    /// assert_eq!(closed.cause, CloseCause::HandshakeFailed);
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out);
    /// assert!(out.starts_with(b"HTTP/1.1 503 "));
    /// assert!(server.should_close_transport());
    /// # Ok::<(), wsmachine::CommandError>(())
    /// ```
    pub fn reject(&mut self, response: &Rejection) -> Result<(), CommandError> {
        self.sender.lifecycle_mut().reject()?;
        let mut bytes = Vec::new();
        response.write(&mut bytes);
        self.sender.queue_raw(bytes);
        Ok(())
    }

    /// The sending side: every command that sends a message, a Ping or a Pong, or closes,
    /// checked against the connection's state.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::frame::CloseCode;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// server.sender().send_text("bye")?;
    /// server.sender().close(CloseCode::NORMAL, "done")?;
    /// assert!(server.sender().send_text("too late").is_err()); // nothing after a Close (§5.5.1)
    /// # Ok::<(), wsmachine::CommandError>(())
    /// ```
    #[inline]
    pub fn sender(&mut self) -> &mut Sender<R> {
        &mut self.sender
    }

    /// Frees the receive and send buffers if they are empty, so that an idle connection holds
    /// no heap at all (the handshake's buffers are freed this way automatically), and the
    /// codecs of permessage-deflate directions that keep no context. Call it when a connection
    /// goes idle among many; the next message allocates them again. The connection also does
    /// it by itself each time its keepalive Ping goes out (once an interval, 20 s by default).
    pub fn release_buffers(&mut self) {
        self.reader.release_if_empty();
        self.sender.release_if_empty();
    }

    /// The capacities of the receive buffer and of the send buffer: what the connection holds
    /// on the heap for data, for tests of when it gives them back.
    #[cfg(all(test, feature = "tokio"))]
    pub(crate) fn buffer_capacities(&self) -> (usize, usize) {
        (self.reader.buf.capacity(), self.sender.data_capacity())
    }

    /// Splits a connection whose handshake is done into halves that separate tasks or threads
    /// can own without a lock; the caller moves each [`Receiver::poll_reply`] to
    /// [`Sender::send_reply`]. The deadlines go with the receiving half, which sees the input
    /// they measure. Before the handshake is done, the connection comes back in the error.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Role};
    ///
    /// let server = Connection::server(Config::default(), Instant::now());
    /// let server = server.split().unwrap_err().into_connection(); // not open yet
    /// let open = Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
    /// let (_receiver, _sender) = open.split().expect("open");
    /// # drop(server);
    /// ```
    pub fn split(self) -> Result<(Receiver<T>, Sender<R>), SplitError<R, T>> {
        let half = match self.sender.lifecycle().check(Command::Split) {
            Ok(()) => self.sender.lifecycle().half(),
            Err(error) => return Err(SplitError { connection: Box::new(self), error }),
        };
        let Some(half) = half else {
            unreachable!("check(Split) allows only the phases after the handshake");
        };
        Ok((Receiver::new(self.reader, half, self.clock), self.sender))
    }

    // ----- outputs -----

    /// Appends every byte waiting to be written to `out` (control frames ahead of queued data)
    /// and returns how many.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.sender.poll_transmit(out)
    }

    /// Appends the waiting output that comes before the next frame shared with other
    /// connections (a [`PreparedMessage`]) to `out`, and returns that frame, to be written
    /// after `out`, vectored, without copying it; `None` when `out` now holds all the output.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, PreparedMessage, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// let prepared = PreparedMessage::text("to everyone");
    /// server.sender().send_text("to you")?;
    /// server.sender().send_prepared(&prepared)?;
    /// let mut socket = Vec::new(); // any `Write`
    /// let mut own = Vec::new();
    /// loop {
    ///     let shared = server.poll_transmit_shared(&mut own);
    ///     socket.write_all(&own)?; // on a socket, one `write_vectored` with the shared frame
    ///     own.clear();
    ///     match shared {
    ///         Some(frame) => socket.write_all(&frame)?,
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(socket, b"\x81\x06to you\x81\x0bto everyone");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_transmit_shared(&mut self, out: &mut Vec<u8>) -> Option<bytes::Bytes> {
        self.sender.poll_transmit_shared(out)
    }

    /// Gives the connection an empty buffer to queue its output in, if it has none waiting:
    /// one buffer with room that an event loop shares between its connections, say. The
    /// buffer comes back with the output from [`poll_transmit`](Connection::poll_transmit)
    /// into an empty `Vec`, so that a connection holds no output buffer between writes and
    /// none is allocated per message.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// let shared = Vec::with_capacity(64 * 1024);
    /// server.lend_output_buffer(shared);
    /// server.sender().send_text("hi")?;
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out);
    /// assert_eq!(out, [0x81, 0x02, b'h', b'i']);
    /// assert!(out.capacity() >= 64 * 1024); // the lent buffer, to lend again
    /// # Ok::<(), wsmachine::CommandError>(())
    /// ```
    pub fn lend_output_buffer(&mut self, buffer: Vec<u8>) {
        self.sender.lend_output_buffer(buffer);
    }
}

/// The failure for `error` in `lifecycle`, and the Close it sends.
fn fail_action(lifecycle: &mut Lifecycle, error: &ProtocolError) -> Option<Action> {
    let code = error.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR);
    lifecycle.fail(code, CloseCause::ProtocolError, "")
}

/// Applies what the reader found to the lifecycle, the moment it is found, on every read path:
/// the peer's Close completes or answers the closing handshake, an error fails the connection
/// (§7.1.7), and the end of input, once every frame before it is read, ends it. Returns the
/// result (the end, if it came) and what the transition obliges this end to send.
pub(crate) fn apply_read<E: Polled>(
    lifecycle: &mut Lifecycle,
    reader: &mut Reader,
    polled: Option<Result<E, ProtocolError>>,
) -> (Option<Result<E, ProtocolError>>, Option<Action>) {
    match polled {
        Some(Ok(found)) => {
            let action = found.peer_close().and_then(|code| {
                let code = (code != CloseCode::NO_STATUS_RECEIVED).then_some(code);
                lifecycle.peer_closed(code, reader.role())
            });
            (Some(Ok(found)), action)
        }
        Some(Err(error)) => {
            let action = fail_action(lifecycle, &error);
            (Some(Err(error)), action)
        }
        None if reader.is_eof() => {
            lifecycle.input_ended();
            (report_end(lifecycle, reader).map(|end| end.map(E::from)), None)
        }
        None => (None, None),
    }
}

/// Reports the end, once: the reader's buffers go with it.
pub(crate) fn report_end(
    lifecycle: &mut Lifecycle,
    reader: &mut Reader,
) -> Option<Result<Event, ProtocolError>> {
    let closed = lifecycle.report_end()?;
    reader.release_all();
    Some(Ok(Event::Closed(closed)))
}

/// [`Connection::split`] before the handshake was done: the connection, unharmed, and why.
pub struct SplitError<R, T> {
    connection: Box<Connection<R, T>>,
    error: CommandError,
}

impl<R, T> SplitError<R, T> {
    /// The connection, as it was.
    #[must_use]
    pub fn into_connection(self) -> Connection<R, T> {
        *self.connection
    }

    /// Why it could not be split.
    #[must_use]
    pub fn error(&self) -> &CommandError {
        &self.error
    }
}

impl<R, T> fmt::Debug for SplitError<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<R, T> fmt::Display for SplitError<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

#[cfg(feature = "std")]
impl<R, T> std::error::Error for SplitError<R, T> {}

/// An event found by [`Connection::poll_lendable`], to be lent by [`Connection::lend`].
pub(crate) enum Lendable {
    /// A whole message in one short frame, at the front of the receive buffer.
    Short(ShortFrame),
    /// Anything else the reader found.
    Ready(Ready),
}

/// What a read reports, owned or borrowed.
pub(crate) trait Polled: From<Event> {
    /// The code of the peer's Close, if this is it.
    fn peer_close(&self) -> Option<CloseCode>;
}

impl Lendable {
    /// Whether this is the end ([`Event::Closed`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn is_end(&self) -> bool {
        matches!(self, Lendable::Ready(Ready::Event(Event::Closed(_))))
    }
}

impl Polled for Event {
    fn peer_close(&self) -> Option<CloseCode> {
        match self {
            Event::Close(frame) => Some(frame.code),
            _ => None,
        }
    }
}

impl Polled for Ready {
    fn peer_close(&self) -> Option<CloseCode> {
        match self {
            Ready::Event(event) => event.peer_close(),
            _ => None,
        }
    }
}

/// Carries out an action on the sender; for the halves of a split connection it becomes a
/// [`Reply`].
impl From<Action> for Reply {
    fn from(action: Action) -> Reply {
        Reply(sender::ReplyKind::Act(action))
    }
}
