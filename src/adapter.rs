//! What the I/O adapters (`wsmachine::tokio`, `wsmachine::blocking`) share: their error,
//! and what a server decides about a request and what came of it.

use std::{fmt, io};

use crate::frame::CloseCode;
use crate::handshake::{H2ResponseError, Rejection, Request, ResponseError, UpgradeRequest};
use crate::{Closed, CommandError, ProtocolError};

/// An error of an adapter's WebSocket: what went wrong is its [`ErrorKind`]; each prints as
/// one line.
///
/// One pointer wide (the kind is boxed), so `Result<Message, Error>` is no larger than a
/// [`Message`](crate::Message) and moves as the message does: on the path every message takes,
/// a wider error put its discriminant among the message's bytes and made each move of the
/// result wait on the stores that wrote them (docs/benchmarks.md).
///
/// ```
/// use wsmachine::frame::{CloseCode, FrameError};
/// use wsmachine::tokio::{Error, ErrorKind}; // the same types as in wsmachine::blocking
///
/// let error = Error::from_protocol(FrameError::ReservedOpcode(3).into());
/// assert!(matches!(error.kind(), ErrorKind::Protocol { close_code: Some(CloseCode::PROTOCOL_ERROR), .. }));
/// assert_eq!(error.to_string(), "protocol error: reserved opcode 0x3 (closed with 1002 (protocol error))");
/// assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
/// ```
pub struct Error(Box<ErrorKind>);

/// What went wrong, as an adapter's [`Error`] says it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the protocol; the connection sent a Close with `close_code` (§7.1.7) and
    /// is over.
    #[error("protocol error: {error} (closed with {})", close_code.map_or_else(|| "no code".to_owned(), |code| code.to_string()))]
    Protocol {
        /// What the peer did.
        error: ProtocolError,
        /// The code of the Close sent for it.
        close_code: Option<CloseCode>,
    },
    /// The server declined the opening handshake: its status, headers and body.
    #[error("handshake rejected with status {}", .0.status())]
    Rejected(Rejection),
    /// The opening handshake was invalid (a request a server refused, or a response a client
    /// could not accept).
    #[error("invalid handshake: {0}")]
    Handshake(ProtocolError),
    /// A plain HTTP request arrived where a WebSocket upgrade was expected; it was answered
    /// with 426.
    #[error("not a WebSocket upgrade: {} {}", .0.method(), .0.path())]
    NotWebSocket(Request),
    /// The connection ended without a closing handshake: the transport ended, or a deadline
    /// passed ([`Closed::cause`] says which).
    #[error("connection ended: {} ({:?})", .0.code, .0.cause)]
    Ended(Closed),
    /// The connection refused a command (a message after its Close, say).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The URL given to `connect` is not a WebSocket URL it can open.
    #[error("invalid URL: {0}")]
    Url(String),
    /// The server does not take WebSockets over HTTP/2: it did not choose `h2` in the TLS
    /// handshake, or did not send `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3). Connect
    /// over HTTP/1.1 instead.
    #[error("the server does not accept WebSockets over HTTP/2 (no h2, or no SETTINGS_ENABLE_CONNECT_PROTOCOL)")]
    NoExtendedConnect,
    /// The HTTP/2 server's answer to the extended CONNECT does not match the request
    /// (RFC 8441 §5); a refusal by status is [`ErrorKind::Rejected`].
    #[error("invalid HTTP/2 response: {0}")]
    Http2Response(H2ResponseError),
}

impl Error {
    /// The error for a [`ProtocolError`]: a rejection or an invalid handshake, or a protocol
    /// error with the close code sent for it.
    #[must_use]
    pub fn from_protocol(error: ProtocolError) -> Error {
        Error::from(match error {
            ProtocolError::Response(response) => match *response {
                ResponseError::Rejected(rejection) => ErrorKind::Rejected(rejection),
                other => ErrorKind::Handshake(ProtocolError::Response(Box::new(other))),
            },
            ProtocolError::Request(_) => ErrorKind::Handshake(error),
            error => ErrorKind::Protocol { close_code: error.close_code(), error },
        })
    }

    /// What went wrong.
    ///
    /// ```
    /// use wsmachine::tokio::{Error, ErrorKind};
    ///
    /// let error = Error::from(ErrorKind::Url("ftp://example.com".into()));
    /// assert!(matches!(error.kind(), ErrorKind::Url(url) if url.starts_with("ftp")));
    /// ```
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// What went wrong, by value (to keep the [`Closed`] or the [`Rejection`] it holds).
    ///
    /// ```
    /// use wsmachine::tokio::{Error, ErrorKind};
    ///
    /// let error = Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    /// let ErrorKind::Io(io) = error.into_kind() else { unreachable!() };
    /// assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
    /// ```
    #[must_use]
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Error {
        ErrorKind::Io(error).into()
    }
}

impl From<CommandError> for Error {
    fn from(error: CommandError) -> Error {
        ErrorKind::Command(error).into()
    }
}

impl From<Error> for io::Error {
    /// An I/O error as itself; any other error as an [`io::Error`] of kind `Other` around it,
    /// for code that returns `io::Result`.
    ///
    /// ```
    /// use wsmachine::tokio::{Error, ErrorKind};
    ///
    /// let reset = Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    /// assert_eq!(std::io::Error::from(reset).kind(), std::io::ErrorKind::ConnectionReset);
    /// let url = std::io::Error::from(Error::from(ErrorKind::Url("ftp://x".into())));
    /// assert_eq!((url.kind(), url.to_string().as_str()), (std::io::ErrorKind::Other, "invalid URL: ftp://x"));
    /// ```
    fn from(error: Error) -> io::Error {
        match error.into_kind() {
            ErrorKind::Io(error) => error,
            other => io::Error::other(other),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

/// What a server's callback (`accept_with` in either adapter) decides about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// Accept the upgrade, selecting this subprotocol (one the client offered) if any.
    Accept {
        /// The subprotocol to select (§4.2.2), if any.
        protocol: Option<String>,
    },
    /// Answer with this response instead (a 403 for a bad origin, a page for a plain HTTP
    /// request); the transport closes after it.
    Reject(Rejection),
}

impl Answer {
    /// Accept without selecting a subprotocol.
    #[must_use]
    pub fn accept() -> Answer {
        Answer::Accept { protocol: None }
    }

    /// Accept, selecting `protocol`.
    #[must_use]
    pub fn accept_protocol(protocol: impl Into<String>) -> Answer {
        Answer::Accept { protocol: Some(protocol.into()) }
    }
}

/// What a server's `accept_with` (either adapter) did with a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Accepted<W> {
    /// The upgrade was accepted and its 101 written.
    WebSocket(W),
    /// A plain HTTP request (not an upgrade), answered as the callback said (with 426 if it
    /// said to accept) and the transport closed: the request is here for the caller's logs.
    Http(Box<Request>),
    /// The upgrade was refused with the callback's response and the transport closed.
    Rejected(Box<UpgradeRequest>),
}

/// A request as a server's callback (`accept_with` in either adapter) sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum IncomingRef<'a> {
    /// A WebSocket upgrade: path, `Origin`, offered subprotocols and extensions.
    WebSocket(&'a UpgradeRequest),
    /// A plain HTTP request on the same port.
    Http(&'a Request),
}
