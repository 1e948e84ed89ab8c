//! Answering a borrowed event while it is still borrowed.

use super::{DefaultRandom, Sender};
use crate::error::SendError;
use crate::event::MessageKind;
use crate::frame::CloseCode;
use crate::random::RandomSource;

/// The sending side of a connection, handed out with a borrowed event by
/// [`Connection::poll_event_ref`](crate::Connection::poll_event_ref), so that the message can
/// be answered (echoed, say) while its bytes are still borrowed from the connection.
///
/// Each method is the [`Connection`](crate::Connection) method of the same name: it fails
/// with [`SendError::NotOpen`] before the handshake completes and [`SendError::Closing`] once
/// the connection is closing.
///
/// ```
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, EventRef, Role};
///
/// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default());
/// server.receive(&[0x82, 0x82, 0, 0, 0, 0, 1, 2]); // a masked binary frame [1, 2]
/// while let Some(next) = server.poll_event_ref() {
///     if let (EventRef::Binary(data), mut responder) = next? {
///         responder.send_binary(data)?; // the echo, from the borrowed bytes
///     }
/// }
/// let mut out = Vec::new();
/// server.poll_transmit(&mut out);
/// assert_eq!(out, [0x82, 0x02, 1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Responder<'c, R = DefaultRandom> {
    sender: Result<&'c mut Sender<R>, SendError>,
}

impl<'c, R: RandomSource> Responder<'c, R> {
    /// A responder that sends through `sender`, or fails every send with the error.
    pub(crate) fn new(sender: Result<&'c mut Sender<R>, SendError>) -> Self {
        Responder { sender }
    }

    fn sender(&mut self) -> Result<&mut Sender<R>, SendError> {
        match &mut self.sender {
            Ok(sender) => Ok(sender),
            Err(error) => Err(error.clone()),
        }
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.sender()?.send_text(text)
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.sender()?.send_binary(data)
    }

    /// Queues a message, choosing whether to compress it; see [`Sender::send_message`].
    pub fn send_message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        self.sender()?.send_message(kind, payload, compress)
    }

    /// Queues a Ping (§5.5.2).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.sender()?.send_ping(payload)
    }

    /// Queues an unsolicited Pong (§5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.sender()?.send_pong(payload)
    }

    /// Starts the closing handshake (§7.1.2).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.sender()?.send_close(code, reason)
    }
}
