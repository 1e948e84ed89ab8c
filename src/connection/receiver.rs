//! The receiving half of a split connection.

use super::clock::Clock;
use super::lifecycle::{Action, Lifecycle, State};
use super::reader::Reader;
use super::sender::{Reply, ReplyKind};
use super::{apply_read, report_end};
use crate::error::ProtocolError;
use crate::event::{Event, EventRef};
use crate::time::{DefaultTimestamp, Timestamp};

/// The receiving half of a connection split by [`Connection::split`](crate::Connection::split):
/// takes the bytes that arrived and reports events, and keeps the connection's deadlines.
///
/// What it obliges the sending half to send (the Pong for a Ping, the Close that answers the
/// peer's or fails the connection, a keepalive Ping) comes out of
/// [`poll_reply`](Receiver::poll_reply), for the caller to hand to
/// [`Sender::send_reply`](crate::Sender::send_reply). The deadlines measure what this half
/// sees: the idle and keepalive ones, the Close this half sent for the connection, and the
/// server's closing of the transport; a Close the sending half sends of its own accord is
/// bounded by the keepalive deadline.
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Event, Role};
///
/// let (mut receiver, mut sender) =
///     Connection::open(Role::Client, Negotiated::default(), Config::default(), Instant::now())
///         .split()
///         .expect("open");
/// receiver.receive(&[0x89, 0x02, b'h', b'i']); // a Ping from the server
/// assert!(matches!(receiver.poll_event(), Some(Ok(Event::Ping(_)))));
/// let reply = receiver.poll_reply().expect("a Pong is owed");
/// sender.send_reply(reply); // on whichever thread owns the sender
/// assert_eq!(sender.buffered_output(), 2 + 4 + 2); // a masked Pong
/// ```
#[derive(Debug)]
pub struct Receiver<T = DefaultTimestamp> {
    reader: Reader,
    /// What this half knows of where the connection is.
    lifecycle: Lifecycle,
    clock: Clock<T>,
    /// The Close owed to the peer, at most one.
    close_owed: Option<Action>,
    /// A keepalive Ping is owed.
    ping_owed: bool,
}

impl<T: Timestamp> Receiver<T> {
    pub(crate) fn new(reader: Reader, lifecycle: Lifecycle, clock: Clock<T>) -> Receiver<T> {
        Receiver { reader, lifecycle, clock, close_owed: None, ping_owed: false }
    }

    /// How long the split adapter's writer may wait for the peer to take what is left (see
    /// `Clock::output_linger`).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn output_linger(&self) -> core::time::Duration {
        self.clock.output_linger(self.lifecycle.closed().map(|closed| closed.cause))
    }

    /// Where the connection is, as far as the receiving half knows.
    #[must_use]
    pub fn state(&self) -> State {
        self.lifecycle.state()
    }

    /// Bytes received and not yet turned into events.
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.reader.buffered_len()
    }

    /// Takes bytes that arrived from the peer, in any chunking; discarded once the connection
    /// is over.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.lifecycle.is_over() {
            self.reader.receive(bytes);
            self.clock.note_input();
        }
    }

    /// Records that the peer closed its side of the transport (EOF).
    pub fn receive_eof(&mut self) {
        self.reader.receive_eof();
        if self.lifecycle.is_over() {
            self.lifecycle.input_ended();
        }
    }

    /// The next event, or `None` until more bytes arrive, as
    /// [`Connection::poll_event`](crate::Connection::poll_event) reports it; what the peer is
    /// owed waits in [`poll_reply`](Receiver::poll_reply).
    pub fn poll_event(&mut self) -> Option<Result<Event, ProtocolError>> {
        if !self.lifecycle.reads_frames() {
            return report_end(&mut self.lifecycle, &mut self.reader);
        }
        if let Some(event) = self.reader.short_frame_event() {
            return Some(Ok(event));
        }
        let polled = self.reader.poll_event();
        self.settle_read(polled)
    }

    /// The next event with a whole message borrowed rather than owned, as
    /// [`Connection::poll_event_ref`](crate::Connection::poll_event_ref) reports it.
    pub fn poll_event_ref(&mut self) -> Option<Result<EventRef<'_>, ProtocolError>> {
        if !self.lifecycle.reads_frames() {
            let end = report_end(&mut self.lifecycle, &mut self.reader)?;
            return Some(end.map(EventRef::Other));
        }
        self.reader.settle();
        let polled = self.reader.poll_ready();
        match self.settle_read(polled)? {
            Ok(ready) => Some(Ok(self.reader.lend(ready))),
            Err(error) => Some(Err(error)),
        }
    }

    /// The next thing owed to the peer, in the order a whole connection sends them: the Pong
    /// for the latest Ping (§5.5.2: it arrived before any Close), a keepalive Ping, then the
    /// Close. At most one of each is held, whatever the peer sends.
    pub fn poll_reply(&mut self) -> Option<Reply> {
        if let Some(pong) = self.reader.take_pong() {
            return Some(Reply(ReplyKind::Pong(pong)));
        }
        if core::mem::take(&mut self.ping_owed) {
            return Some(Action::Ping.into());
        }
        self.close_owed.take().map(Reply::from)
    }

    /// When [`handle_timeout`](Receiver::handle_timeout) should next be called; see
    /// [`Connection::poll_timeout`](crate::Connection::poll_timeout).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.clock.poll_timeout(self.lifecycle.timer_family())
    }

    /// Tells the receiving half the time; see
    /// [`Connection::handle_timeout`](crate::Connection::handle_timeout). What a deadline
    /// obliges the sending half to send comes out of [`poll_reply`](Receiver::poll_reply).
    pub fn handle_timeout(&mut self, now: T) {
        for _ in 0..4 {
            let family = self.lifecycle.timer_family();
            let passed = self.clock.handle_timeout(now, family);
            let Some(passed) = passed else { return };
            if let Some(action) = self.lifecycle.deadline_passed(passed) {
                if action == super::lifecycle::Action::Ping {
                    // As a whole connection does: its receive side's share.
                    self.reader.release_if_empty();
                }
                self.owe(action);
            }
        }
    }

    fn settle_read<E: super::Polled>(
        &mut self,
        polled: Option<Result<E, ProtocolError>>,
    ) -> Option<Result<E, ProtocolError>> {
        let (result, action) = apply_read(&mut self.lifecycle, &mut self.reader, polled);
        if let Some(action) = action {
            self.owe(action);
        }
        if self.reader.take_pong_seen() {
            self.clock.note_pong();
        }
        result
    }

    fn owe(&mut self, action: Action) {
        match action {
            Action::Ping => self.ping_owed = true,
            close @ Action::Close { .. } => self.close_owed = Some(close),
        }
    }
}
