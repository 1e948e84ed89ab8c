//! Reading received bytes where the caller holds them, without copying them in.

use core::mem;

use super::reader::ShortFrame;
use super::{Connection, DefaultRandom, Sender};
use crate::error::ProtocolError;
use crate::event::EventRef;
use crate::random::RandomSource;
use crate::time::{DefaultTimestamp, Timestamp};

/// Bytes that arrived in the caller's buffer, read where they lie: returned by
/// [`Connection::receive_in_place`].
///
/// Poll it as the connection itself is polled. Whole text and binary messages are unmasked in
/// the caller's buffer and lent from there; everything else (control frames, fragments,
/// compressed messages, the handshake) is handed to the connection one frame at a time and
/// reported exactly as [`Connection::poll_event_ref`] reports it. When it is dropped, the
/// bytes not read yet (the start of a frame that is still arriving, or events left unpolled)
/// are copied into the connection, so nothing received is lost.
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Event, EventRef, Role};
///
/// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
/// // A Ping, then a masked binary message [1, 2], in one read.
/// let mut read = [0x89, 0x80, 0, 0, 0, 0, 0x82, 0x82, 9, 9, 9, 9, 8, 11];
/// let mut input = server.receive_in_place(&mut read);
/// let Some(Ok((EventRef::Other(Event::Ping(_)), _))) = input.poll_event_ref() else { panic!() };
/// let Some(Ok((EventRef::Binary(data), _))) = input.poll_event_ref() else { panic!() };
/// assert_eq!(data, [1, 2]);
/// assert!(input.poll_event_ref().is_none());
/// ```
#[derive(Debug)]
#[must_use = "the bytes are read by polling the events"]
pub struct InPlace<'a, R: RandomSource = DefaultRandom, T: Timestamp = DefaultTimestamp> {
    connection: &'a mut Connection<R, T>,
    /// The bytes neither read in place nor handed to the connection yet.
    unread: &'a mut [u8],
    /// The connection was found open with nothing buffered and nothing has touched it since:
    /// frames can be read in place without asking again.
    reads_in_place: bool,
}

impl<'a, R: RandomSource, T: Timestamp> InPlace<'a, R, T> {
    pub(super) fn new(connection: &'a mut Connection<R, T>, bytes: &'a mut [u8]) -> Self {
        InPlace { connection, unread: bytes, reads_in_place: false }
    }

    /// The next event, or `None` once every byte is read and the connection has nothing more
    /// until more bytes arrive; as [`Connection::poll_event_ref`], with a whole message lent
    /// from the caller's buffer when it lies there whole.
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn poll_event_ref(
        &mut self,
    ) -> Option<Result<(EventRef<'_>, &mut Sender<R>), ProtocolError>> {
        // Set when the connection found nothing although it held a whole frame, which does
        // not happen; then every byte goes to it so that the loop always moves on.
        let mut hand_all = false;
        loop {
            if !self.unread.is_empty() && (self.reads_in_place || self.connection.reads_in_place())
            {
                self.reads_in_place = true;
                let unread = mem::take(&mut self.unread);
                if let Some(frame) = self.connection.reader.whole_frame_in(unread) {
                    let (frame_bytes, rest) = unread.split_at_mut(frame.frame_len);
                    self.unread = rest;
                    let frame_bytes: &'a [u8] = frame_bytes;
                    let payload = &frame_bytes[frame.header_len..];
                    let event = if !frame.text {
                        Some(EventRef::Binary(payload))
                    } else {
                        crate::frame::validate_short(payload).ok().map(EventRef::Text)
                    };
                    if let Some(event) = event {
                        return Some(Ok((event, &mut self.connection.sender)));
                    }
                    self.hand_over_invalid_text(frame_bytes, &frame);
                    continue;
                }
                self.unread = unread;
            }
            self.reads_in_place = false;
            if !self.unread.is_empty() {
                let len = self.unread.len();
                let count = match self.connection.front_frame_needs(self.unread) {
                    Some(needed) if !hand_all => needed.min(len),
                    _ => len,
                };
                self.hand_over(count);
                hand_all = count == 0;
            }
            match self.connection.poll_lendable() {
                Some(found) => return Some(found.map(|lendable| self.connection.lend(lendable))),
                None if self.unread.is_empty() => return None,
                None => {}
            }
        }
    }

    /// The next message as an owned value, if it lies whole at the front of the bytes and is
    /// short enough to be held inline ([`Payload`](crate::Payload)): copied out, no buffer and
    /// no reference count. Anything else is `None` and stays unread (handed to the connection
    /// when this is dropped, or read by [`poll_event_ref`](InPlace::poll_event_ref)).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    #[inline]
    pub(crate) fn poll_inline_message(&mut self) -> Option<crate::Message> {
        if self.unread.is_empty() || !(self.reads_in_place || self.connection.reads_in_place()) {
            return None;
        }
        self.reads_in_place = true;
        let frame = self.connection.reader.inline_frame_in(self.unread)?;
        let (frame_bytes, rest) = mem::take(&mut self.unread).split_at_mut(frame.frame_len);
        self.unread = rest;
        let payload = &frame_bytes[frame.header_len..];
        if frame.text && crate::frame::validate_short(payload).is_err() {
            self.hand_over_invalid_text(frame_bytes, &frame);
            return None;
        }
        Some(crate::Message::whole(frame.text, crate::Payload::inline(payload)?))
    }

    /// A frame of invalid text found in place: the connection reads it as it arrived and
    /// reports the error where it is.
    fn hand_over_invalid_text(&mut self, frame_bytes: &[u8], frame: &ShortFrame) {
        self.connection.reader.receive_unmasked(frame_bytes, frame);
        self.reads_in_place = false;
    }

    /// The connection, for its commands while the bytes are read: to accept the request the
    /// handshake reported, say, or to send. Bytes given to its
    /// [`receive`](Connection::receive) now would be read before the unread ones here.
    pub fn connection(&mut self) -> &mut Connection<R, T> {
        self.reads_in_place = false;
        self.connection
    }

    /// Copies the first `count` unread bytes into the connection.
    fn hand_over(&mut self, count: usize) {
        let (handed, rest) = mem::take(&mut self.unread).split_at_mut(count);
        self.connection.receive(handed);
        self.unread = rest;
    }
}

impl<R: RandomSource, T: Timestamp> Drop for InPlace<'_, R, T> {
    fn drop(&mut self) {
        if !self.unread.is_empty() {
            let len = self.unread.len();
            self.hand_over(len);
        }
    }
}

impl<R: RandomSource, T: Timestamp> Connection<R, T> {
    /// Whether received bytes can be read in place: the connection reads frames and holds
    /// nothing received that is not yet read.
    #[inline]
    fn reads_in_place(&mut self) -> bool {
        self.sender.lifecycle().reads_frames() && self.reader.reads_in_place()
    }

    /// How many of `incoming` make up the connection's next frame (see
    /// `Reader::front_frame_needs`); `None` when it reads no frames, when all of them go.
    fn front_frame_needs(&self, incoming: &[u8]) -> Option<usize> {
        if !self.sender.lifecycle().reads_frames() {
            return None;
        }
        self.reader.front_frame_needs(incoming)
    }
}
