//! What the I/O adapters (`wsmachine::tokio`, `wsmachine::blocking`) share: their error,
//! and what a server decides about a request and what came of it.

use std::io;

use crate::frame::CloseCode;
use crate::handshake::{H2ResponseError, Rejection, Request, ResponseError, UpgradeRequest};
use crate::{Closed, CommandError, ProtocolError};

/// An error of an adapter's WebSocket: each prints as one line.
///
/// ```
/// use wsmachine::frame::{CloseCode, FrameError};
/// use wsmachine::tokio::Error; // the same type as wsmachine::blocking::Error
///
/// let error = Error::from_protocol(FrameError::ReservedOpcode(3).into());
/// assert!(matches!(error, Error::Protocol { close_code: Some(CloseCode::PROTOCOL_ERROR), .. }));
/// assert_eq!(error.to_string(), "protocol error: reserved opcode 0x3 (closed with 1002 (protocol error))");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    Rejected(Box<Rejection>),
    /// The opening handshake was invalid (a request a server refused, or a response a client
    /// could not accept).
    #[error("invalid handshake: {0}")]
    Handshake(ProtocolError),
    /// A plain HTTP request arrived where a WebSocket upgrade was expected; it was answered
    /// with 426.
    #[error("not a WebSocket upgrade: {} {}", .0.method(), .0.path())]
    NotWebSocket(Box<Request>),
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
    /// (RFC 8441 §5); a refusal by status is [`Error::Rejected`].
    #[error("invalid HTTP/2 response: {0}")]
    Http2Response(H2ResponseError),
}

impl Error {
    /// The error for a [`ProtocolError`]: a rejection or an invalid handshake, or a protocol
    /// error with the close code sent for it.
    #[must_use]
    pub fn from_protocol(error: ProtocolError) -> Error {
        match error {
            ProtocolError::Response(response) => match *response {
                ResponseError::Rejected(rejection) => Error::Rejected(Box::new(rejection)),
                other => Error::Handshake(ProtocolError::Response(Box::new(other))),
            },
            ProtocolError::Request(_) => Error::Handshake(error),
            error => Error::Protocol { close_code: error.close_code(), error },
        }
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
