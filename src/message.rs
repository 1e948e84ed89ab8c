//! A message or control frame as one owned value: what the adapters send and receive.

use bytes::Bytes;

use crate::event::{CloseFrame, Event, Piece, Text};
use crate::Payload;

/// A whole message, a Ping, a Pong or a Close, owned: what the adapters
/// (`wsmachine::tokio`, `wsmachine::blocking`) send and receive, and what
/// [`Sender::send`](crate::Sender::send) takes.
///
/// Text is [`Text`]: validated once when it arrived (or made from a `&str`), and sent back
/// without being checked again.
///
/// ```
/// use wsmachine::Message;
///
/// let text = Message::from("hello");
/// assert!(matches!(&text, Message::Text(t) if t.as_str() == "hello"));
/// let binary = Message::from(vec![1, 2, 3]);
/// assert!(matches!(&binary, Message::Binary(b) if b[..] == [1, 2, 3]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message (§5.6), valid UTF-8.
    Text(Text),
    /// A binary message.
    Binary(Payload),
    /// A Ping (§5.5.2); a received one is answered automatically.
    Ping(Bytes),
    /// A Pong (§5.5.3).
    Pong(Bytes),
    /// A Close (§5.5.1), with its code and reason, or none (an empty Close).
    Close(Option<CloseFrame>),
    /// A piece of a message too large to hold whole: received when a message is larger than
    /// [`Config::stream_messages_above`](crate::Config::stream_messages_above); sent, the
    /// first piece begins a message and the last one ends it (§5.4).
    Piece(Piece),
}

impl Message {
    /// The message an event reports, or the event itself when it is not one (the handshake,
    /// the end).
    ///
    /// ```
    /// use wsmachine::{Event, Message};
    ///
    /// assert_eq!(Message::from_event(Event::Binary(vec![7].into())), Ok(Message::Binary(vec![7].into())));
    /// ```
    pub fn from_event(event: Event) -> Result<Message, Event> {
        Ok(match event {
            Event::Text(text) => Message::Text(text),
            Event::Binary(data) => Message::Binary(data),
            Event::Ping(data) => Message::Ping(data),
            Event::Pong(data) => Message::Pong(data),
            Event::Close(frame) => Message::Close(Some(frame)),
            Event::Piece(piece) => Message::Piece(piece),
            other => return Err(other),
        })
    }

    /// A whole text message (its payload validated already) or binary message.
    #[inline]
    pub(crate) fn whole(text: bool, payload: Payload) -> Message {
        if text {
            Message::Text(Text::from_validated(payload))
        } else {
            Message::Binary(payload)
        }
    }

    /// Whether this is a text or binary message or a piece of one (not a control frame).
    #[must_use]
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_) | Message::Piece(_))
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.into())
    }
}

impl From<alloc::string::String> for Message {
    fn from(text: alloc::string::String) -> Message {
        Message::Text(text.into())
    }
}

impl From<Text> for Message {
    fn from(text: Text) -> Message {
        Message::Text(text)
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data.into())
    }
}

impl From<Payload> for Message {
    fn from(data: Payload) -> Message {
        Message::Binary(data)
    }
}

impl From<alloc::vec::Vec<u8>> for Message {
    fn from(data: alloc::vec::Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Message {
        Message::Binary(Payload::copy_from_slice(data))
    }
}
