//! The connection's errors: what the peer did wrong, and what the caller asked that cannot be
//! done.

use alloc::boxed::Box;

use crate::connection::{Command, State};
use crate::frame::{CloseBodyError, CloseCode, FrameError, Utf8Error};
use crate::handshake::{AcceptError, RequestError, ResponseError};

/// A violation by the peer. The first one fails the connection (§7.1.7): the Close frame with
/// [`ProtocolError::close_code`] is queued, later input is discarded, and the error is reported
/// once, followed by [`Event::Closed`](crate::Event::Closed).
///
/// ```
/// use wsmachine::frame::CloseCode;
/// use wsmachine::ProtocolError;
///
/// assert_eq!(ProtocolError::UnexpectedContinuation.close_code(), Some(CloseCode::PROTOCOL_ERROR));
/// assert_eq!(ProtocolError::MessageTooBig { max: 10 }.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header broke §5.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A Close payload broke §5.5.1.
    #[error(transparent)]
    CloseBody(#[from] CloseBodyError),
    /// A text message was not UTF-8 (§8.1).
    #[error(transparent)]
    Utf8(#[from] Utf8Error),
    /// A continuation frame without a message to continue (§5.4).
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message was unfinished (§5.4).
    #[error("new data frame while a fragmented message is unfinished")]
    ExpectedContinuation,
    /// A message over [`Config::max_message_len`](crate::Config::max_message_len).
    #[error("message exceeds {max} bytes")]
    MessageTooBig {
        /// The limit.
        max: u64,
    },
    /// A message spread over more frames than
    /// [`Config::max_fragments`](crate::Config::max_fragments).
    #[error("message spans more than {max} frames")]
    TooManyFragments {
        /// The limit.
        max: u32,
    },
    /// RSV1 on a frame that cannot carry it: a continuation or control frame, since
    /// permessage-deflate marks only a message's first frame (RFC 7692 §6.1).
    #[error("RSV1 set on a continuation or control frame")]
    MisplacedCompressionBit,
    /// A compressed message whose data is not valid DEFLATE (RFC 7692 §8): closed with 1007.
    #[error("invalid compressed data")]
    InvalidCompressedData,
    /// A data frame after the peer's Close (§5.5.1).
    #[error("frame after the peer's Close")]
    FrameAfterClose,
    /// The client's opening handshake was invalid (server side).
    #[error("invalid handshake request: {0}")]
    Request(#[from] RequestError),
    /// The server's handshake response was invalid or a rejection (client side). Boxed: it is
    /// rare and large, and every event result would otherwise carry its size.
    #[error("handshake failed: {0}")]
    Response(Box<ResponseError>),
}

impl From<ResponseError> for ProtocolError {
    fn from(error: ResponseError) -> ProtocolError {
        ProtocolError::Response(Box::new(error))
    }
}

impl ProtocolError {
    /// The code of the Close frame sent for this error (§7.4.1), or `None` when the handshake
    /// failed and there is no WebSocket connection to close.
    #[must_use]
    pub fn close_code(&self) -> Option<CloseCode> {
        Some(match self {
            ProtocolError::Frame(error) => error.close_code(),
            ProtocolError::CloseBody(error) => error.close_code(),
            ProtocolError::Utf8(error) => error.close_code(),
            ProtocolError::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::TooManyFragments { .. } => CloseCode::POLICY_VIOLATION,
            ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::Request(_) | ProtocolError::Response(_) => return None,
            _ => CloseCode::PROTOCOL_ERROR,
        })
    }
}

/// A command of the caller's that the connection cannot carry out; the connection itself is
/// unharmed.
///
/// ```
/// use std::time::Instant;
/// use wsmachine::{Command, CommandError, Config, Connection, State};
///
/// let mut server = Connection::server(Config::default(), Instant::now());
/// assert_eq!(
///     server.sender().send_text("too early"),
///     Err(CommandError::NotAllowed { command: Command::SendMessage, state: State::AwaitingRequest }),
/// );
/// assert_eq!(
///     server.sender().send_text("too early").unwrap_err().to_string(),
///     "cannot send a message while the connection is awaiting the handshake request",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The command is not allowed in the connection's state: a message before the handshake
    /// completed or after a Close, an accept on a client or a second accept, and so on.
    #[error("cannot {command} while the connection is {state}")]
    NotAllowed {
        /// What was asked.
        command: Command,
        /// Where the connection was.
        state: State,
    },
    /// The 101 response cannot be sent as asked (a subprotocol the client did not offer).
    #[error(transparent)]
    Accept(#[from] AcceptError),
    /// The output holds [`Config::max_buffered_output`](crate::Config::max_buffered_output)
    /// bytes or more: write some of it, then send again (any message fits once it is below).
    #[error("output buffer full")]
    OutputFull,
    /// A control frame payload over 125 bytes (§5.5).
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// A close code that may not be sent (§7.4) or a reason over 123 bytes.
    #[error("invalid close frame: {0}")]
    InvalidClose(crate::frame::EncodeError),
    /// A text message that is not UTF-8 (§5.6).
    #[error("text message is not valid UTF-8")]
    InvalidText,
    /// A streamed message was begun and not finished, so no other message can start (§5.4).
    #[error("a streamed message is in progress")]
    StreamInProgress,
    /// A stream piece without a begun stream.
    #[error("no streamed message is in progress")]
    NoStream,
}
