//! What a connection reports: handshake outcomes, messages, control frames, the end.

use alloc::boxed::Box;

use bytes::Bytes;

use crate::connection::Closed;
use crate::frame::CloseCode;
use crate::handshake::{Accepted, Request, UpgradeRequest};
use crate::Payload;

/// Something that happened on a connection, returned by
/// [`Connection::poll_event`](crate::Connection::poll_event).
///
/// Payloads are cut out of the receive buffer without copying (except for messages assembled
/// from several frames), or held inline when short (see [`Payload`]), so an event can be sent
/// straight back.
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Event, Role};
///
/// let mut client = Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now());
/// client.receive(&[0x82, 0x03, 1, 2, 3]); // a binary message from the server
/// match client.poll_event() {
///     Some(Ok(Event::Binary(data))) => assert_eq!(&data[..], [1, 2, 3]),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server: a valid WebSocket opening handshake arrived. Answer with
    /// [`Connection::accept`](crate::Connection::accept) or
    /// [`Connection::reject`](crate::Connection::reject).
    Request(Box<UpgradeRequest>),
    /// Server: a plain HTTP request (not an upgrade) arrived. Answer with
    /// [`Connection::reject`](crate::Connection::reject), which writes any response.
    HttpRequest(Box<Request>),
    /// Client: the server accepted the handshake; the connection is open.
    Accepted(Box<Accepted>),
    /// A complete text message (§5.6), valid UTF-8.
    Text(Text),
    /// A complete binary message.
    Binary(Payload),
    /// Part of a message too large to assemble (see
    /// [`Config::stream_messages_above`](crate::Config::stream_messages_above)).
    Piece(Piece),
    /// A Ping (§5.5.2); with `auto_pong` the Pong is already queued.
    Ping(Bytes),
    /// A Pong (§5.5.3).
    Pong(Bytes),
    /// The peer's Close (§5.5.1): its code (1005 when it sent none) and reason. The reply is
    /// queued unless this endpoint had already sent a Close.
    Close(CloseFrame),
    /// The connection is over, however it ended ([`Closed::cause`]): always the last event,
    /// reported exactly once by every connection. Nothing more will be reported.
    Closed(Closed),
}

/// An event whose whole message is borrowed from the connection instead of owned, from
/// [`Connection::poll_event_ref`](crate::Connection::poll_event_ref).
///
/// A message that arrived in one frame is handed out where it lies in the receive buffer,
/// unmasked in place: no reference count, no copy. The borrow ends at the next call on the
/// connection, which is when the bytes are dropped. Every whole message, however it arrived
/// (fragmented, compressed), comes as [`Text`](EventRef::Text) or
/// [`Binary`](EventRef::Binary); everything else comes as the owned [`Event`].
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, EventRef, Role};
///
/// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
/// // A masked text frame "Hi" and a masked binary frame [1, 2], in one read.
/// server.receive(&[0x81, 0x82, 0, 0, 0, 0, b'H', b'i', 0x82, 0x82, 0, 0, 0, 0, 1, 2]);
/// match server.poll_event_ref() {
///     Some(Ok((EventRef::Text(text), _))) => assert_eq!(text, "Hi"),
///     other => panic!("{other:?}"),
/// }
/// match server.poll_event_ref() {
///     Some(Ok((EventRef::Binary(data), _))) => assert_eq!(data, [1, 2]),
///     other => panic!("{other:?}"),
/// }
/// assert!(server.poll_event_ref().is_none());
/// ```
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventRef<'a> {
    /// A complete text message (§5.6), valid UTF-8.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// Any other event, owned: the handshake, streamed pieces, control frames, the end.
    Other(Event),
}

/// Text that is known to be valid UTF-8, held as a [`Payload`] (short text inline, long text
/// as [`Bytes`]).
///
/// The crate forbids `unsafe`, so [`Text::as_str`] checks the bytes again (with SIMD, at many
/// GB/s) rather than trusting them unchecked.
///
/// ```
/// use wsmachine::Text;
///
/// let text = Text::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text.as_bytes().len(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Payload);

impl Text {
    /// Text from bytes the caller has validated.
    pub(crate) fn from_validated(bytes: impl Into<Payload>) -> Text {
        Text(bytes.into())
    }

    /// The validated bytes, as held.
    #[inline]
    pub(crate) fn payload(&self) -> &Payload {
        &self.0
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The UTF-8 bytes as [`Bytes`]: without a copy unless the text is short enough to be
    /// held inline (see [`Payload`]).
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The UTF-8 bytes as they are held.
    #[must_use]
    pub fn into_payload(self) -> Payload {
        self.0
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text(Payload::copy_from_slice(text.as_bytes()))
    }
}

impl From<alloc::string::String> for Text {
    fn from(text: alloc::string::String) -> Text {
        Text(Payload::from(text.into_bytes()))
    }
}

/// Whether a message is text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// A piece of a streamed message, in order. For text, the pieces together are valid UTF-8
/// (checked as they arrive), but a piece may end inside a character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Text or binary.
    pub kind: MessageKind,
    /// The bytes of this piece.
    pub data: Bytes,
    /// Whether this is the first piece of its message.
    pub first: bool,
    /// Whether this is the last piece of its message.
    pub last: bool,
}

/// A Close frame's contents (§5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code: [`CloseCode::NO_STATUS_RECEIVED`] (1005) if the frame had none.
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: Text,
}
