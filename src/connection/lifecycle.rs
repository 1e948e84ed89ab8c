//! Where a connection is in its life, and every transition between its states, in one place
//! (the table in docs/design.md is this file's): the getters, the command checks and the
//! timers all derive from the one [`Lifecycle`] value.

use alloc::boxed::Box;
use core::fmt;

use super::clock::Due;
use crate::error::CommandError;
use crate::frame::CloseCode;
use crate::handshake::PendingHandshake;
use crate::{Config, Role};

/// Where a connection is in its life (§4, §7), as [`Connection::state`] reports it.
///
/// [`Connection::state`]: crate::Connection::state
///
/// ```
/// use wsmachine::frame::CloseCode;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Role, State};
/// use std::time::Instant;
///
/// let mut server = Connection::server(Config::default(), Instant::now());
/// assert_eq!(server.state(), State::AwaitingRequest);
/// let mut open = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
/// open.sender().close(CloseCode::GOING_AWAY, "restart")?;
/// assert_eq!(open.state(), State::CloseSent);
/// # Ok::<(), wsmachine::CommandError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Server: reading the client's opening handshake (§4.2.1).
    AwaitingRequest,
    /// Server: the request was reported; the caller accepts or rejects it.
    AwaitingDecision,
    /// Client: the request is queued; reading the server's response (§4.1).
    AwaitingResponse,
    /// Messages flow both ways.
    Open,
    /// This end sent its Close (§7.1.2) and waits for the peer's; the peer's messages still
    /// arrive until then.
    CloseSent,
    /// The peer's Close arrived and the reply is queued (§5.5.1); `Closed` is reported next.
    CloseReceived,
    /// Both Close frames passed: the connection ended cleanly (§7.1.4).
    Closed,
    /// The connection ended any other way: a protocol error, a deadline, the transport ending
    /// early, or a handshake that did not complete. [`Closed::cause`] says which.
    Failed,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::AwaitingRequest => "awaiting the handshake request",
            State::AwaitingDecision => "awaiting the decision on the handshake request",
            State::AwaitingResponse => "awaiting the handshake response",
            State::Open => "open",
            State::CloseSent => "closing (Close sent)",
            State::CloseReceived => "closing (Close received)",
            State::Closed => "closed",
            State::Failed => "failed",
        })
    }
}

/// A command the caller gives a connection, as [`CommandError::NotAllowed`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// [`Connection::accept`](crate::Connection::accept).
    Accept,
    /// [`Connection::reject`](crate::Connection::reject).
    Reject,
    /// Sending a message or a piece of one.
    SendMessage,
    /// [`Sender::send_ping`](crate::Sender::send_ping).
    SendPing,
    /// [`Sender::send_pong`](crate::Sender::send_pong).
    SendPong,
    /// [`Sender::close`](crate::Sender::close).
    Close,
    /// [`Connection::split`](crate::Connection::split).
    Split,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::Accept => "accept the handshake",
            Command::Reject => "reject the handshake",
            Command::SendMessage => "send a message",
            Command::SendPing => "send a Ping",
            Command::SendPong => "send a Pong",
            Command::Close => "close",
            Command::Split => "split the connection",
        })
    }
}

/// How a connection ended, reported once by [`Event::Closed`](crate::Event::Closed).
///
/// ```
/// use wsmachine::frame::CloseCode;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{CloseCause, Config, Connection, Event, Role};
/// use std::time::Instant;
///
/// let mut client = Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
/// client.receive(&[0x88, 0x02, 0x03, 0xe9]); // the server's Close, 1001
/// assert!(matches!(client.poll_event(), Some(Ok(Event::Close(_)))));
/// let Some(Ok(Event::Closed(closed))) = client.poll_event() else { panic!() };
/// assert_eq!((closed.code, closed.clean, closed.cause), (CloseCode::GOING_AWAY, true, CloseCause::PeerClosed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Closed {
    /// The code to report: the peer's close code after a closing handshake, the code this end
    /// failed the connection with, or [`CloseCode::ABNORMAL_CLOSURE`] (1006) when no Close
    /// frame settled it (§7.1.5).
    pub code: CloseCode,
    /// Whether both Close frames were exchanged (§7.1.4 "cleanly").
    pub clean: bool,
    /// What ended the connection.
    pub cause: CloseCause,
}

/// What ended a connection: who began its end, or which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCause {
    /// The peer began the closing handshake.
    PeerClosed,
    /// This end began it ([`Sender::close`](crate::Sender::close)).
    LocalClose,
    /// The peer broke the protocol and this end failed the connection (§7.1.7) with
    /// [`Closed::code`]; the error was reported just before.
    ProtocolError,
    /// The opening handshake did not complete: the request or response was invalid, or it was
    /// rejected (by [`Connection::reject`](crate::Connection::reject) on a server, by the
    /// server on a client).
    HandshakeFailed,
    /// The transport ended before the closing handshake completed (§7.1.5).
    TransportEnded,
    /// [`Config::handshake_timeout`] passed before the connection opened.
    HandshakeTimeout,
    /// [`Config::idle_timeout`] passed with nothing received; this end closed with 1001.
    IdleTimeout,
    /// The keepalive Ping went unanswered for [`Config::pong_timeout`]: the peer is presumed
    /// gone, and this end failed the connection with 1011.
    PongTimeout,
    /// The peer did not answer this end's Close within [`Config::close_timeout`].
    CloseTimeout,
}

/// The timers that apply in a phase (see `Clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerFamily {
    /// No deadline.
    None,
    /// The opening handshake's deadline, from construction.
    Handshake,
    /// Keepalive, its Pong deadline, and idle.
    Open,
    /// The peer's Close reply.
    Closing,
    /// Client: the server's closing of the transport (§7.1.1).
    TransportClose,
}

/// Something a transition obliges this end to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// A Close frame: with a code (and a fixed reason), or empty when the peer's Close had no
    /// code (§5.5.1 echoes the code); `cause` is why it goes out.
    Close { code: Option<CloseCode>, reason: &'static str, cause: CloseCause },
    /// A keepalive Ping.
    Ping,
}

/// The end of a connection, once it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ending {
    pub(crate) closed: Closed,
    /// Whether [`Event::Closed`](crate::Event::Closed) went out.
    pub(crate) reported: bool,
    /// Whether the caller should close the transport (once its output is written).
    pub(crate) close_transport: bool,
}

/// Where a connection is, with the cause of a close under way or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    AwaitingRequest,
    AwaitingDecision,
    AwaitingResponse,
    Open,
    CloseSent(CloseCause),
    Over(Ending),
}

/// What the opening handshake needs while it is under way.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// A server's configuration, for reading the request and opening.
    Server(Config),
    /// A client's pending handshake (to check the response) and configuration.
    Client(PendingHandshake, Config),
}

/// The one value that says where a connection is. Every transition is a method here; each
/// either applies or leaves the phase as it was, and returns what it obliges this end to send.
/// What only the handshake needs is boxed beside the phase and dropped once it is done, so
/// the value is 16 bytes in an open connection.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    phase: Phase,
    handshake: Option<Box<Handshake>>,
}

impl Lifecycle {
    /// A server waiting for the client's request.
    pub(crate) fn server(config: Config) -> Lifecycle {
        let handshake = Some(Box::new(Handshake::Server(config)));
        Lifecycle { phase: Phase::AwaitingRequest, handshake }
    }

    /// A client whose request is queued.
    pub(crate) fn client(pending: PendingHandshake, config: Config) -> Lifecycle {
        let handshake = Some(Box::new(Handshake::Client(pending, config)));
        Lifecycle { phase: Phase::AwaitingResponse, handshake }
    }

    /// A connection opened by a handshake done elsewhere.
    pub(crate) fn open() -> Lifecycle {
        Lifecycle { phase: Phase::Open, handshake: None }
    }

    /// A copy for one half of a split connection; only after the handshake.
    pub(crate) fn half(&self) -> Option<Lifecycle> {
        match self.phase {
            Phase::AwaitingRequest | Phase::AwaitingDecision | Phase::AwaitingResponse => None,
            phase => Some(Lifecycle { phase, handshake: None }),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    // ----- what derives from the phase -----

    pub(crate) fn state(&self) -> State {
        match self.phase {
            Phase::AwaitingRequest => State::AwaitingRequest,
            Phase::AwaitingDecision => State::AwaitingDecision,
            Phase::AwaitingResponse => State::AwaitingResponse,
            Phase::Open => State::Open,
            Phase::CloseSent(_) => State::CloseSent,
            Phase::Over(Ending { closed, reported: false, .. })
                if closed.cause == CloseCause::PeerClosed =>
            {
                State::CloseReceived
            }
            Phase::Over(Ending { closed, .. }) if closed.clean => State::Closed,
            Phase::Over(_) => State::Failed,
        }
    }

    /// Whether frames are read: after the handshake, until the end.
    #[inline]
    pub(crate) fn reads_frames(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::CloseSent(_))
    }

    /// Whether the end is reached (reported or not): input is dropped.
    pub(crate) fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Over(_))
    }

    pub(crate) fn closed(&self) -> Option<Closed> {
        match self.phase {
            Phase::Over(ending) => Some(ending.closed),
            _ => None,
        }
    }

    pub(crate) fn should_close_transport(&self) -> bool {
        matches!(self.phase, Phase::Over(Ending { close_transport: true, .. }))
    }

    /// Whether `command` is allowed now.
    #[inline]
    pub(crate) fn check(&self, command: Command) -> Result<(), CommandError> {
        let allowed = match command {
            Command::Accept => matches!(self.phase, Phase::AwaitingDecision),
            Command::Reject => {
                matches!(self.phase, Phase::AwaitingRequest | Phase::AwaitingDecision)
            }
            Command::SendMessage | Command::SendPing | Command::SendPong | Command::Close => {
                matches!(self.phase, Phase::Open)
            }
            Command::Split => !matches!(
                self.phase,
                Phase::AwaitingRequest | Phase::AwaitingDecision | Phase::AwaitingResponse
            ),
        };
        if allowed {
            Ok(())
        } else {
            Err(CommandError::NotAllowed { command, state: self.state() })
        }
    }

    /// The deadlines that apply now.
    pub(crate) fn timer_family(&self) -> TimerFamily {
        match self.phase {
            Phase::AwaitingRequest | Phase::AwaitingDecision | Phase::AwaitingResponse => {
                TimerFamily::Handshake
            }
            Phase::Open => TimerFamily::Open,
            Phase::CloseSent(_) => TimerFamily::Closing,
            Phase::Over(Ending { close_transport: false, .. }) => TimerFamily::TransportClose,
            Phase::Over(_) => TimerFamily::None,
        }
    }

    // ----- the opening handshake -----

    /// Server: the request arrived and is reported.
    pub(crate) fn request_read(&mut self) {
        if self.phase == Phase::AwaitingRequest {
            self.phase = Phase::AwaitingDecision;
        }
    }

    /// Server: the caller accepted; returns the configuration the connection opens with.
    pub(crate) fn accept(&mut self) -> Result<Config, CommandError> {
        self.check(Command::Accept)?;
        match self.handshake.take().map(|handshake| *handshake) {
            Some(Handshake::Server(config)) => {
                self.phase = Phase::Open;
                Ok(config)
            }
            _ => unreachable!("a server awaiting its decision keeps its configuration"),
        }
    }

    /// Server: the caller answered with another response; the transport closes after it.
    pub(crate) fn reject(&mut self) -> Result<(), CommandError> {
        self.check(Command::Reject)?;
        self.end(CloseCode::ABNORMAL_CLOSURE, false, CloseCause::HandshakeFailed, true);
        Ok(())
    }

    /// The configuration the handshake reads with, while it is under way.
    pub(crate) fn handshake_config(&self) -> Option<&Config> {
        match self.handshake.as_deref()? {
            Handshake::Server(config) | Handshake::Client(_, config) => Some(config),
        }
    }

    /// Client: the handshake in progress, to check the response with.
    pub(crate) fn pending_handshake(&self) -> Option<&PendingHandshake> {
        match self.handshake.as_deref()? {
            Handshake::Client(pending, _) => Some(pending),
            Handshake::Server(_) => None,
        }
    }

    /// Client: the response accepted the handshake; returns the configuration.
    pub(crate) fn response_accepted(&mut self) -> Option<Config> {
        if self.phase != Phase::AwaitingResponse {
            return None;
        }
        match self.handshake.take().map(|handshake| *handshake) {
            Some(Handshake::Client(_, config)) => {
                self.phase = Phase::Open;
                Some(config)
            }
            _ => unreachable!("a client awaiting the response keeps its handshake"),
        }
    }

    /// The handshake failed: an invalid request (answered with its rejection) or response,
    /// or a rejection received.
    pub(crate) fn handshake_failed(&mut self) {
        if !self.is_over() {
            self.end(CloseCode::ABNORMAL_CLOSURE, false, CloseCause::HandshakeFailed, true);
        }
    }

    // ----- closing -----

    /// This end closes (§7.1.2), for `cause`: the Close goes out and the peer's is awaited.
    pub(crate) fn close(&mut self, cause: CloseCause) -> Result<(), CommandError> {
        self.check(Command::Close)?;
        self.phase = Phase::CloseSent(cause);
        Ok(())
    }

    /// The peer's Close arrived with `code` (1005 when it had none): answered with the same
    /// code when this end has not closed yet (§5.5.1), and the closing handshake is complete.
    /// After it, a server closes the transport; a client waits for the server to (§7.1.1).
    pub(crate) fn peer_closed(&mut self, code: Option<CloseCode>, role: Role) -> Option<Action> {
        let reported = code.unwrap_or(CloseCode::NO_STATUS_RECEIVED);
        let close_transport = role == Role::Server;
        match self.phase {
            Phase::Open => {
                self.end(reported, true, CloseCause::PeerClosed, close_transport);
                Some(Action::Close { code, reason: "", cause: CloseCause::PeerClosed })
            }
            Phase::CloseSent(cause) => {
                self.end(reported, true, cause, close_transport);
                None
            }
            _ => None,
        }
    }

    /// This end fails the connection with `code` (§7.1.7): the Close goes out unless one
    /// already did, and the transport closes without waiting for a reply.
    pub(crate) fn fail(
        &mut self,
        code: CloseCode,
        cause: CloseCause,
        reason: &'static str,
    ) -> Option<Action> {
        match self.phase {
            Phase::Open => {
                self.end(code, false, cause, true);
                Some(Action::Close { code: Some(code), reason, cause })
            }
            Phase::CloseSent(_) => {
                self.end(code, false, cause, true);
                None
            }
            _ => None,
        }
    }

    /// The transport ended (EOF) and every complete frame before it was read.
    pub(crate) fn input_ended(&mut self) {
        match &mut self.phase {
            Phase::Over(ending) => ending.close_transport = true,
            _ => self.end(CloseCode::ABNORMAL_CLOSURE, false, CloseCause::TransportEnded, true),
        }
    }

    /// A deadline passed (see `Clock`): what it ends or begins, and what that sends.
    pub(crate) fn deadline_passed(&mut self, passed: Due) -> Option<Action> {
        match (passed, &mut self.phase) {
            (
                Due::Handshake,
                Phase::AwaitingRequest | Phase::AwaitingDecision | Phase::AwaitingResponse,
            ) => {
                self.end(CloseCode::ABNORMAL_CLOSURE, false, CloseCause::HandshakeTimeout, true);
                None
            }
            (Due::Ping, Phase::Open) => Some(Action::Ping),
            (Due::Idle, Phase::Open) => {
                self.phase = Phase::CloseSent(CloseCause::IdleTimeout);
                Some(Action::Close {
                    code: Some(CloseCode::GOING_AWAY),
                    reason: "idle timeout",
                    cause: CloseCause::IdleTimeout,
                })
            }
            (Due::Pong, Phase::Open) => {
                self.fail(CloseCode::INTERNAL_ERROR, CloseCause::PongTimeout, "keepalive timeout")
            }
            (Due::Close, Phase::CloseSent(_)) => {
                self.end(CloseCode::ABNORMAL_CLOSURE, false, CloseCause::CloseTimeout, true);
                None
            }
            (Due::TransportClose, Phase::Over(ending)) => {
                ending.close_transport = true;
                None
            }
            _ => None,
        }
    }

    /// The end, to report once: `Some` the first time after the connection is over.
    pub(crate) fn report_end(&mut self) -> Option<Closed> {
        match &mut self.phase {
            Phase::Over(ending) if !ending.reported => {
                ending.reported = true;
                Some(ending.closed)
            }
            _ => None,
        }
    }

    fn end(&mut self, code: CloseCode, clean: bool, cause: CloseCause, close_transport: bool) {
        self.handshake = None;
        self.phase = Phase::Over(Ending {
            closed: Closed { code, clean, cause },
            reported: false,
            close_transport,
        });
    }
}
