//! Sending: every command that sends goes through [`Sender`], checked against the lifecycle
//! it holds; frames are encoded into its output buffer, control frames ahead of data.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;
use core::num::NonZeroUsize;

use super::lifecycle::{Action, CloseCause, Command, Lifecycle, State};
use super::prepared::{Encoding, PreparedMessage};
use super::DefaultRandom;
use crate::error::CommandError;
use crate::event::MessageKind;
use crate::frame::{
    apply_mask, CloseBody, CloseCode, Opcode, Rsv, MAX_CONTROL_PAYLOAD_LEN, MAX_HEADER_LEN,
};
use crate::message::Message;
use crate::random::RandomSource;
use crate::{Config, Payload, Role};

/// What the receiving half of a split connection obliges the sending half to send: a Pong, a
/// keepalive Ping, or the Close that answers the peer's or fails the connection (§5.5).
///
/// The caller moves each from [`Receiver::poll_reply`](crate::Receiver::poll_reply) to
/// [`Sender::send_reply`] by whatever channel joins the two halves: no lock is involved. It
/// can only be made by a [`Receiver`](crate::Receiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(pub(crate) ReplyKind);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    Pong(bytes::Bytes),
    Act(Action),
}

impl Reply {
    /// Whether this is a Pong, which a later Pong supersedes (§5.5.3: a Pong may answer only
    /// the most recent Ping), so that it may be dropped when the writer falls behind.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn is_pong(&self) -> bool {
        matches!(self.0, ReplyKind::Pong(_))
    }
}

/// The sending side of a connection: every command that sends, checked against where the
/// connection is, and the output those commands queue.
///
/// A whole [`Connection`](crate::Connection) lends it with
/// [`Connection::sender`](crate::Connection::sender), and with each borrowed event from
/// [`Connection::poll_event_ref`](crate::Connection::poll_event_ref) so that a message can be
/// answered while it is borrowed; [`Connection::split`](crate::Connection::split) hands it
/// out on its own. A command the connection's state does not allow fails with
/// [`CommandError::NotAllowed`], which names the state.
///
/// Pings and Pongs queue ahead of data frames that have not been taken yet (§5.4 allows control
/// frames between the fragments of a message), so they are not stuck behind megabytes of data.
/// A Close queues behind the data sent before it: nothing follows it (§5.5.1).
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Role};
///
/// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
/// server.sender().send_text("hi")?;
/// let mut out = Vec::new();
/// server.poll_transmit(&mut out);
/// assert_eq!(out, [0x81, 0x02, b'h', b'i']);
/// # Ok::<(), wsmachine::CommandError>(())
/// ```
#[derive(Debug)]
pub struct Sender<R = DefaultRandom> {
    /// Where the connection is: for a whole connection, its one lifecycle value (every
    /// command checks it here); for the sending half of a split one, what this half knows.
    lifecycle: Lifecycle,
    role: Role,
    random: R,
    /// A streamed message is in progress: only its pieces and control frames can be sent.
    streaming: bool,
    /// Control frames, a deferred Pong, and frames shared with other connections beyond
    /// `first_shared`: rare or bursty, so boxed (8 bytes in the connection) and freed once
    /// taken, unless it has queued shared frames (a connection that gets bursts of
    /// broadcasts keeps its queue's room until it goes idle).
    queued: Option<Box<Queued>>,
    /// A frame shared with other connections, queued when nothing else waited (so it goes
    /// out first): a broadcast to a connection with nothing pending, the common case, is held
    /// here rather than in `queued`, which keeps a broadcast to one recipient to the memory
    /// of the connection itself (`benches/broadcast.rs`).
    first_shared: Option<Bytes>,
    /// Data frames this sender wrote, after what `queued` holds (see [`Queued::data_start`]).
    data: Vec<u8>,
    max_buffered: usize,
    fragment_size: Option<NonZeroUsize>,
    /// permessage-deflate, once negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<Box<super::compression::Deflate>>,
    /// Whether the streamed message in progress is compressed.
    #[cfg(feature = "deflate")]
    stream_compressed: bool,
}

impl<R: RandomSource> Sender<R> {
    pub(crate) fn new(lifecycle: Lifecycle, role: Role, random: R, config: &Config) -> Self {
        Sender {
            lifecycle,
            role,
            random,
            streaming: false,
            queued: None,
            first_shared: None,
            data: Vec::new(),
            max_buffered: config.max_buffered_output,
            fragment_size: config.fragment_size.and_then(NonZeroUsize::new),
            #[cfg(feature = "deflate")]
            deflate: None,
            #[cfg(feature = "deflate")]
            stream_compressed: false,
        }
    }

    /// This end's role.
    #[inline]
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// The lifecycle this sender checks commands against.
    #[inline]
    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// The lifecycle, for the connection's transitions.
    #[inline]
    pub(crate) fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }

    /// Where the connection is, as far as this sender knows: for the sending half of a split
    /// connection, the Closes it sent and the replies it was given.
    #[must_use]
    pub fn state(&self) -> State {
        self.lifecycle.state()
    }

    /// Compresses messages from now on (permessage-deflate was negotiated).
    #[cfg(feature = "deflate")]
    pub(crate) fn enable_deflate(&mut self, deflate: super::compression::Deflate) {
        self.deflate = Some(Box::new(deflate));
    }

    /// Queues bytes written elsewhere (the handshake) for output, ahead of every frame (it
    /// comes before the first one, so the control queue is where it goes); the buffer is taken
    /// over rather than copied.
    pub(crate) fn queue_raw(&mut self, bytes: Vec<u8>) {
        let queued = self.queued.get_or_insert_with(Box::default);
        if queued.control.is_empty() {
            queued.control = bytes;
        } else {
            queued.control.extend_from_slice(&bytes);
        }
    }

    /// Queues a message or control frame given as a value. Text is not checked again: a
    /// [`Text`](crate::Text) is valid UTF-8 by construction. `Message::Close(None)` sends a
    /// Close without a code (§5.5.1 allows an empty body); a `Message::Piece` begins a
    /// streamed message when it is the first and continues it otherwise. On a server, a text
    /// or binary message of 8 KiB or more that goes out uncompressed in one frame is not
    /// copied: [`poll_transmit_shared`](Sender::poll_transmit_shared) hands its bytes out
    /// after its header.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// server.sender().send(Message::from("hi"))?;
    /// server.sender().send(Message::Close(None))?;
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out);
    /// assert_eq!(out, [0x81, 0x02, b'h', b'i', 0x88, 0x00]);
    /// # Ok::<(), wsmachine::CommandError>(())
    /// ```
    #[inline(always)]
    pub fn send(&mut self, message: Message) -> Result<(), CommandError> {
        if let Some(sent) = self.send_short(&message) {
            return sent;
        }
        self.send_long(message)
    }

    /// [`send`](Sender::send)'s common case, framed from where the message lies: a whole text
    /// or binary message of at most 125 bytes, unmasked, uncompressed and not fragmented, goes
    /// out as a two-byte header and its payload. `None` for anything else (nothing checked or
    /// queued yet).
    #[inline(always)]
    fn send_short(&mut self, message: &Message) -> Option<Result<(), CommandError>> {
        let (opcode, payload) = match message {
            Message::Text(text) => (Opcode::Text, text.payload()),
            Message::Binary(data) => (Opcode::Binary, data),
            _ => return None,
        };
        let len = payload.len();
        if self.role.masks_outgoing_frames() || self.worth_compressing(len) {
            return None;
        }
        let header = short_frame_header(opcode, len, self.fragment_size)?;
        if let Err(error) = self.check_new_message() {
            return Some(Err(error));
        }
        self.data.reserve(header.len() + len.max(crate::payload::INLINE_CAPACITY));
        self.data.extend_from_slice(&header);
        payload.append_to(&mut self.data);
        Some(Ok(()))
    }

    /// [`send`](Sender::send) for all but its common case.
    #[inline(never)]
    fn send_long(&mut self, message: Message) -> Result<(), CommandError> {
        match message {
            Message::Text(text) => {
                let compress = self.worth_compressing(text.as_bytes().len());
                self.queue_owned(Opcode::Text, text.into_payload(), compress)
            }
            Message::Binary(data) => {
                let compress = self.worth_compressing(data.len());
                self.queue_owned(Opcode::Binary, data, compress)
            }
            Message::Ping(data) => self.send_ping(&data),
            Message::Pong(data) => self.send_pong(&data),
            Message::Close(Some(frame)) => self.close(frame.code, frame.reason.as_str()),
            Message::Close(None) => {
                self.lifecycle.close(CloseCause::LocalClose)?;
                self.write_close(None, "");
                Ok(())
            }
            Message::Piece(piece) if piece.first => {
                self.begin_message(piece.kind, &piece.data, piece.last)
            }
            Message::Piece(piece) => self.send_piece(&piece.data, piece.last),
        }
    }

    /// Queues a text message, fragmented at the configured size; compressed if
    /// permessage-deflate is in force and the message reaches the compression threshold
    /// (`DeflateConfig::compression_threshold`, feature `deflate`).
    pub fn send_text(&mut self, text: &str) -> Result<(), CommandError> {
        let compress = self.worth_compressing(text.len());
        self.queue_message(Opcode::Text, text.as_bytes(), compress)
    }

    /// Queues a binary message, like [`send_text`](Sender::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), CommandError> {
        let compress = self.worth_compressing(data.len());
        self.queue_message(Opcode::Binary, data, compress)
    }

    /// Queues a message, choosing whether to compress it when permessage-deflate is in force
    /// (RFC 7692 §6 lets each message go either way: already-compressed data or a few bytes
    /// gain nothing). Without permessage-deflate, `compress` is ignored. Text must be UTF-8.
    pub fn send_message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), CommandError> {
        self.lifecycle.check(Command::SendMessage)?;
        let opcode = match kind {
            MessageKind::Text => {
                simdutf8::basic::from_utf8(payload).map_err(|_| CommandError::InvalidText)?;
                Opcode::Text
            }
            MessageKind::Binary => Opcode::Binary,
        };
        self.queue_message(opcode, payload, compress)
    }

    /// Queues a [`PreparedMessage`]: on a server connection, as the frames shared with every
    /// other connection that fragments and compresses as this one does, made by the first of
    /// them (no framing, compression or copy here); compressed when
    /// [`send_text`](Sender::send_text) would compress it. A client, which masks every frame
    /// (§5.3), and a connection whose compressor keeps context send it as `send_text` would.
    ///
    /// ```
    /// use std::time::Instant;
    /// use wsmachine::handshake::Negotiated;
    /// use wsmachine::{Config, Connection, PreparedMessage, Role};
    ///
    /// let mut server = Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now());
    /// server.sender().send_text("first")?;
    /// server.sender().send_prepared(&PreparedMessage::binary(&b"second"[..]))?;
    /// let mut out = Vec::new();
    /// server.poll_transmit(&mut out);
    /// assert_eq!(out, b"\x81\x05first\x82\x06second");
    /// # Ok::<(), wsmachine::CommandError>(())
    /// ```
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), CommandError> {
        self.check_new_message()?;
        let compress = self.worth_compressing(message.payload().len());
        if self.role.masks_outgoing_frames() {
            return self.queue_message(message.opcode(), message.payload(), compress);
        }
        #[cfg(feature = "deflate")]
        let compressor = match self.deflate.as_deref().filter(|_| compress) {
            None => None,
            Some(deflate) => match deflate.shared_compressor() {
                Some(compressor) => Some(compressor),
                // Its output depends on the messages before: compressed here.
                None => return self.queue_message(message.opcode(), message.payload(), true),
            },
        };
        let frames = message.frames(Encoding {
            fragment_size: self.fragment_size,
            #[cfg(feature = "deflate")]
            compressor,
        });
        self.push_shared(frames);
        Ok(())
    }

    /// Queues frames shared with other connections behind the data queued so far.
    fn push_shared(&mut self, frames: Bytes) {
        let nothing_waits = self.first_shared.is_none()
            && self.data.is_empty()
            && self.queued.as_ref().is_none_or(|queued| queued.shared.is_empty());
        if nothing_waits {
            self.first_shared = Some(frames);
            return;
        }
        let queued = self.queued.get_or_insert_with(Box::default);
        queued.shared_len += frames.len();
        queued.shared.push_back((self.data.len(), frames));
    }

    /// Whether permessage-deflate is in force, so that messages can be compressed.
    #[must_use]
    pub fn compresses(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        false
    }

    /// Whether a message of `len` bytes is compressed by default: deflate is in force and the
    /// message reaches its threshold.
    #[inline]
    fn worth_compressing(&self, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.deflate {
            return len >= deflate.threshold;
        }
        let _ = len;
        false
    }

    /// Queues a Ping; its payload must be at most 125 bytes (§5.5).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), CommandError> {
        self.lifecycle.check(Command::SendPing)?;
        self.send_control(Opcode::Ping, payload)
    }

    /// Queues an unsolicited Pong (a heartbeat, §5.5.3); at most 125 bytes.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), CommandError> {
        self.lifecycle.check(Command::SendPong)?;
        self.send_control(Opcode::Pong, payload)
    }

    /// Starts the closing handshake (§7.1.2): queues a Close with a code allowed on the wire
    /// and a reason of at most 123 bytes (§5.5.1), behind the data already queued; no message
    /// can follow it. To refuse a kind of data, close with [`CloseCode::UNSUPPORTED_DATA`]
    /// (1003); to refuse a message for policy, [`CloseCode::POLICY_VIOLATION`] (1008).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), CommandError> {
        self.lifecycle.check(Command::Close)?;
        let body = CloseBody::new(code, reason).map_err(CommandError::InvalidClose)?;
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD_LEN];
        let len = body.encode(&mut payload).map_err(CommandError::InvalidClose)?;
        self.lifecycle.close(CloseCause::LocalClose)?;
        self.push_close(&payload[..len]);
        Ok(())
    }

    /// Sends what the receiving half of a split connection owes the peer
    /// ([`Receiver::poll_reply`](crate::Receiver::poll_reply)). A Close after this half
    /// already sent one is dropped (each end sends one Close), and so is anything after it.
    pub fn send_reply(&mut self, reply: Reply) {
        match reply.0 {
            ReplyKind::Pong(payload) => self.queue_pong(payload),
            ReplyKind::Act(Action::Close { code, reason, cause }) => {
                if self.lifecycle.close(cause).is_ok() {
                    self.write_close(code, reason);
                }
            }
            ReplyKind::Act(Action::Ping) => {
                if self.lifecycle.check(Command::SendPing).is_ok() {
                    let _ = self.send_control(Opcode::Ping, &[]);
                }
            }
        }
    }

    /// Carries out what a transition obliges this end to send, without the command checks
    /// (the transition already decided).
    pub(crate) fn act(&mut self, action: Action) {
        match action {
            Action::Close { code, reason, .. } => self.write_close(code, reason),
            Action::Ping => {
                let _ = self.send_control(Opcode::Ping, &[]);
            }
        }
    }

    /// Queues the Pong `auto_pong` owes, while the connection is open. When the output is not
    /// being drained, only the latest Pong is kept (§5.5.3 lets an endpoint answer only the
    /// most recent Ping), so a Ping flood cannot grow the buffer.
    pub(crate) fn queue_pong(&mut self, payload: bytes::Bytes) {
        if self.lifecycle.check(Command::SendPong).is_err() {
            return;
        }
        if self.buffered_output() >= self.max_buffered {
            self.queued.get_or_insert_with(Box::default).deferred_pong = Some(payload);
            return;
        }
        // A Ping's payload is at most 125 bytes.
        let _ = self.send_control(Opcode::Pong, &payload);
    }

    /// Writes a Close frame with `code` (none: an empty body) and `reason`.
    fn write_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD_LEN];
        let len = match code.map(|code| CloseBody::new(code, reason)) {
            Some(Ok(body)) => body.encode(&mut payload).unwrap_or(0),
            // A code that may not go on the wire (the peer's 1005 is never echoed as a code):
            // an empty Close, which §5.5.1 allows.
            Some(Err(_)) | None => 0,
        };
        self.push_close(&payload[..len]);
    }

    /// Starts a message to be sent in pieces (a 1 GiB upload in constant memory); until
    /// [`send_piece`](Sender::send_piece) with `last`, only its pieces and control frames can
    /// be sent.
    pub fn begin_message(
        &mut self,
        kind: MessageKind,
        first_piece: &[u8],
        last: bool,
    ) -> Result<(), CommandError> {
        self.check_new_message()?;
        let opcode = match kind {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        };
        // A streamed message of unknown length is always compressed when deflate is on.
        #[cfg(feature = "deflate")]
        {
            self.stream_compressed = self.deflate.is_some();
        }
        self.push_piece(opcode, first_piece, last);
        self.streaming = !last;
        Ok(())
    }

    /// Sends the next piece of the message begun with [`begin_message`](Sender::begin_message);
    /// `last` ends it.
    pub fn send_piece(&mut self, piece: &[u8], last: bool) -> Result<(), CommandError> {
        self.lifecycle.check(Command::SendMessage)?;
        if !self.streaming {
            return Err(CommandError::NoStream);
        }
        self.check_room()?;
        self.push_piece(Opcode::Continuation, piece, last);
        self.streaming = !last;
        Ok(())
    }

    /// Bytes waiting to be written: the backpressure signal.
    #[must_use]
    pub fn buffered_output(&self) -> usize {
        let data = self.data.len() + self.first_shared.as_ref().map_or(0, Bytes::len);
        self.queued.as_ref().map_or(data, |queued| {
            queued.control.len() + queued.shared_len + (data - queued.data_start)
        })
    }

    /// Appends all waiting output to `out`, control frames ahead of data frames, and returns
    /// how many bytes.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let len = self.buffered_output();
        while let Some(shared) = self.poll_transmit_shared(out) {
            out.extend_from_slice(&shared);
        }
        len
    }

    /// Appends the waiting output that comes before the next frame shared with other
    /// connections ([`send_prepared`](Sender::send_prepared)) to `out`, and returns that frame,
    /// which goes on the wire after `out`: for a vectored write that copies no shared byte.
    /// `None` when `out` now holds all the output; call again until then.
    pub fn poll_transmit_shared(&mut self, out: &mut Vec<u8>) -> Option<Bytes> {
        if let Some(payload) = self.queued.as_mut().and_then(|queued| queued.deferred_pong.take()) {
            let _ = self.send_control(Opcode::Pong, &payload);
        }
        if let Some(queued) = self.queued.as_mut().filter(|queued| !queued.control.is_empty()) {
            // Control frames are rare and the handshake head is written once: their buffer is
            // freed rather than kept.
            out.extend_from_slice(&core::mem::take(&mut queued.control));
        }
        if let Some(shared) = self.first_shared.take() {
            // Queued when nothing else waited: no own data goes before it.
            return Some(shared);
        }
        let Some(queued) = self.queued.as_mut() else {
            take_data(&mut self.data, 0, out);
            return None;
        };
        if let Some((at, shared)) = queued.shared.pop_front() {
            out.extend_from_slice(&self.data[queued.data_start..at]);
            queued.data_start = at;
            queued.shared_len -= shared.len();
            return Some(shared);
        }
        take_data(&mut self.data, queued.data_start, out);
        queued.data_start = 0;
        if queued.shared.capacity() == 0 {
            self.queued = None;
        }
        None
    }

    /// Takes `buffer` (emptied) to queue data frames in, if no data frame waits; see
    /// [`Connection::lend_output_buffer`](crate::Connection::lend_output_buffer).
    pub fn lend_output_buffer(&mut self, mut buffer: Vec<u8>) {
        if self.data.is_empty() && buffer.capacity() > self.data.capacity() {
            buffer.clear();
            self.data = buffer;
        }
    }

    /// The capacity of the buffer data frames are queued in.
    #[cfg(all(test, feature = "tokio"))]
    pub(crate) fn data_capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Frees the output buffers if nothing waits in them.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buffered_output() == 0 {
            self.queued = None;
            self.data = Vec::new();
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_mut().filter(|_| !self.streaming) {
            deflate.release();
        }
    }

    /// Queues a message given as owned bytes: a server's long uncompressed message that fits
    /// in one frame is not copied, but queued as a shared frame after its header, for a
    /// vectored write ([`poll_transmit_shared`](Sender::poll_transmit_shared)); others as
    /// [`queue_message`](Sender::queue_message).
    #[inline]
    fn queue_owned(
        &mut self,
        opcode: Opcode,
        payload: Payload,
        compress: bool,
    ) -> Result<(), CommandError> {
        let len = payload.len();
        let shares = len >= SHARE_PAYLOADS_FROM
            && !self.role.masks_outgoing_frames()
            && !(compress && self.compresses())
            && self.fragment_size.is_none_or(|size| len <= size.get());
        if !shares {
            return self.queue_message(opcode, &payload, compress);
        }
        self.check_new_message()?;
        push_header(&mut self.data, opcode, len, true, Rsv::NONE, None);
        self.push_shared(payload.into_bytes());
        Ok(())
    }

    fn queue_message(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), CommandError> {
        self.check_new_message()?;
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_mut().filter(|_| compress) {
            let compressed = deflate.compress_piece(payload, true);
            self.push_message_frames(opcode, &compressed, Rsv::RSV1);
            self.restore_scratch(compressed);
            return Ok(());
        }
        let _ = compress;
        if !self.role.masks_outgoing_frames()
            && push_short_frame(&mut self.data, opcode, payload, self.fragment_size)
        {
            return Ok(());
        }
        self.push_message_frames(opcode, payload, Rsv::NONE);
        Ok(())
    }

    /// Frames a whole message, fragmented at the configured size; `rsv` goes on the first
    /// frame only (RFC 7692 §6.1).
    fn push_message_frames(&mut self, opcode: Opcode, payload: &[u8], rsv: Rsv) {
        let (role, random) = (self.role, &mut self.random);
        push_message_frames(&mut self.data, opcode, payload, rsv, self.fragment_size, &mut || {
            next_mask(role, random)
        });
    }

    /// Frames one piece of a streamed message, compressed if the stream is.
    fn push_piece(&mut self, opcode: Opcode, piece: &[u8], last: bool) {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_mut().filter(|_| self.stream_compressed) {
            let compressed = deflate.compress_piece(piece, last);
            let rsv = if opcode == Opcode::Continuation { Rsv::NONE } else { Rsv::RSV1 };
            self.push_data_frame(opcode, &compressed, last, rsv);
            self.restore_scratch(compressed);
            return;
        }
        self.push_data_frame(opcode, piece, last, Rsv::NONE);
    }

    #[cfg(feature = "deflate")]
    fn restore_scratch(&mut self, scratch: Vec<u8>) {
        if let Some(deflate) = &mut self.deflate {
            deflate.restore(scratch);
        }
    }

    /// Whether a new message may be queued: the lifecycle allows it, no streamed message is in
    /// progress, and the output is below its limit.
    #[inline]
    fn check_new_message(&self) -> Result<(), CommandError> {
        self.lifecycle.check(Command::SendMessage)?;
        if self.streaming {
            return Err(CommandError::StreamInProgress);
        }
        self.check_room()
    }

    /// Refuses new data while the output holds `max_buffered` bytes or more. A message is
    /// taken whole whatever its size once the output is below the limit, so that any message
    /// can be sent (an echo of the largest message received included) and the output never
    /// holds more than the limit plus one message.
    #[inline]
    fn check_room(&self) -> Result<(), CommandError> {
        if self.buffered_output() >= self.max_buffered {
            return Err(CommandError::OutputFull);
        }
        Ok(())
    }

    /// Queues a control frame, ahead of data; the caller checked the lifecycle.
    fn send_control(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), CommandError> {
        if payload.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(CommandError::ControlTooLong);
        }
        let mask = self.next_mask();
        push_frame(
            &mut self.queued.get_or_insert_with(Box::default).control,
            opcode,
            payload,
            true,
            Rsv::NONE,
            mask,
        );
        Ok(())
    }

    /// Queues the Close behind the data already queued: it is the last frame this end sends
    /// (§5.5.1), so it must not jump ahead of messages sent before it.
    fn push_close(&mut self, payload: &[u8]) {
        let mask = self.next_mask();
        push_frame(&mut self.data, Opcode::Close, payload, true, Rsv::NONE, mask);
        self.streaming = false;
    }

    fn push_data_frame(&mut self, opcode: Opcode, payload: &[u8], fin: bool, rsv: Rsv) {
        let mask = self.next_mask();
        push_frame(&mut self.data, opcode, payload, fin, rsv, mask);
    }

    /// A fresh masking key for a client's frame (§5.3), none for a server's.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        next_mask(self.role, &mut self.random)
    }
}

/// From this length on, a server's owned message is written from its own buffer (after its
/// header, in a vectored write) rather than copied into the output: copying 8 KiB costs more
/// than the reference count and the second slice of the write.
const SHARE_PAYLOADS_FROM: usize = 8 * 1024;

/// What a sender queues beside its own data frames.
#[derive(Debug, Default)]
struct Queued {
    /// The Pong for the latest Ping, held while the output is over its limit.
    deferred_pong: Option<Bytes>,
    /// Control frames (and the handshake head), which go ahead of the data.
    control: Vec<u8>,
    /// Frames shared with other connections (prepared messages), in order, each with the
    /// length of the sender's own data when it was queued: it goes on the wire after the own
    /// data up to there.
    shared: VecDeque<(usize, Bytes)>,
    /// The bytes in `shared`.
    shared_len: usize,
    /// The own data before this was taken already (it went out ahead of a shared frame).
    data_start: usize,
}

/// Moves the own data from `start` on to `out`, handing over the whole buffer when `out` is
/// empty and nothing was taken before, and leaves `data` empty.
fn take_data(data: &mut Vec<u8>, start: usize, out: &mut Vec<u8>) {
    if out.is_empty() && start == 0 {
        core::mem::swap(out, data);
    } else {
        out.extend_from_slice(&data[start..]);
        data.clear();
    }
}

/// A fresh masking key for a client's frame (§5.3), none for a server's.
fn next_mask<R: RandomSource>(role: Role, random: &mut R) -> Option<[u8; 4]> {
    role.masks_outgoing_frames().then(|| {
        let mut key = [0u8; 4];
        random.fill_bytes(&mut key);
        key
    })
}

/// Appends a whole message to `out` as frames of at most `fragment_size` bytes of payload,
/// each masked with the key `next_mask` gives; `rsv` goes on the first frame only
/// (RFC 7692 §6.1).
pub(super) fn push_message_frames(
    out: &mut Vec<u8>,
    opcode: Opcode,
    payload: &[u8],
    rsv: Rsv,
    fragment_size: Option<NonZeroUsize>,
    next_mask: &mut dyn FnMut() -> Option<[u8; 4]>,
) {
    match fragment_size {
        Some(size) if payload.len() > size.get() => {
            let mut pieces = payload.chunks(size.get()).peekable();
            let (mut opcode, mut rsv) = (opcode, rsv);
            while let Some(piece) = pieces.next() {
                push_frame(out, opcode, piece, pieces.peek().is_none(), rsv, next_mask());
                (opcode, rsv) = (Opcode::Continuation, Rsv::NONE);
            }
        }
        _ => push_frame(out, opcode, payload, true, rsv, next_mask()),
    }
}

/// The common case in one step: a whole unmasked message of at most 125 bytes that needs no
/// fragmenting goes out as a two-byte header and the payload (§5.2), what
/// [`push_frame`] writes for it (the tests below hold it to that). False, with nothing
/// written, for anything else.
#[inline]
fn push_short_frame(
    out: &mut Vec<u8>,
    opcode: Opcode,
    payload: &[u8],
    fragment_size: Option<NonZeroUsize>,
) -> bool {
    let Some(header) = short_frame_header(opcode, payload.len(), fragment_size) else {
        return false;
    };
    out.reserve(header.len() + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    true
}

/// The two-byte header of a whole unmasked message of `len` bytes sent as one frame, when
/// its length fits the 7-bit form (at most 125, §5.2) and `fragment_size` does not split it;
/// `None` otherwise. [`push_short_frame`] and [`Sender::send`]'s common case write it.
#[inline]
fn short_frame_header(
    opcode: Opcode,
    len: usize,
    fragment_size: Option<NonZeroUsize>,
) -> Option<[u8; 2]> {
    let len_byte @ 0..=125 = u8::try_from(len).ok()? else {
        return None;
    };
    if fragment_size.is_some_and(|size| len > size.get()) {
        return None;
    }
    Some([0x80 | opcode.as_u8(), len_byte])
}

/// Appends one frame to `out`, masking the payload when a key is given. The header is written
/// straight into `out` in its shortest form (§5.2), as [`FrameHeader::encode`](crate::frame::FrameHeader::encode) writes it (the
/// tests below hold it to that); every message sent passes here.
fn push_frame(
    out: &mut Vec<u8>,
    opcode: Opcode,
    payload: &[u8],
    fin: bool,
    rsv: Rsv,
    mask: Option<[u8; 4]>,
) {
    out.reserve(MAX_HEADER_LEN + payload.len());
    push_header(out, opcode, payload.len(), fin, rsv, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
}

/// Appends the header of a frame of `len` payload bytes to `out`, in its shortest form
/// (§5.2), with the masking key if one is given.
fn push_header(
    out: &mut Vec<u8>,
    opcode: Opcode,
    len: usize,
    fin: bool,
    rsv: Rsv,
    mask: Option<[u8; 4]>,
) {
    let first = (u8::from(fin) << 7) | (rsv.bits() << 4) | opcode.as_u8();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    // Each arm bounds the length, so the narrowing casts are exact.
    #[allow(clippy::cast_possible_truncation)]
    match len {
        0..=125 => out.extend_from_slice(&[first, mask_bit | len as u8]),
        126..=0xFFFF => {
            let [high, low] = (len as u16).to_be_bytes();
            out.extend_from_slice(&[first, mask_bit | 126, high, low]);
        }
        _ => {
            out.extend_from_slice(&[first, mask_bit | 127]);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameHeader;
    use alloc::vec;
    use proptest::prelude::*;

    /// The frame as the plain path writes it: [`FrameHeader::encode`], then the payload.
    fn encoded_plainly(
        opcode: Opcode,
        payload: &[u8],
        fin: bool,
        rsv: Rsv,
        mask: Option<[u8; 4]>,
    ) -> Vec<u8> {
        let mut header = FrameHeader::new(opcode, payload.len() as u64).with_fin(fin).with_rsv(rsv);
        header.mask = mask;
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head).expect("a payload in memory has an encoding");
        let mut frame = head[..head_len].to_vec();
        frame.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut frame[head_len..], key);
        }
        frame
    }

    proptest! {
        #[test]
        fn push_frame_writes_what_frame_header_encode_writes(
            // Lengths around both length-form boundaries, and a few beyond.
            len in prop_oneof![0usize..=130, 65_530usize..=65_540, 65_536usize..=70_000],
            fin: bool,
            rsv_bits in 0u8..8,
            opcode in prop::sample::select(vec![
                Opcode::Continuation, Opcode::Text, Opcode::Binary,
                Opcode::Close, Opcode::Ping, Opcode::Pong,
            ]),
            mask: Option<[u8; 4]>,
            already in prop::collection::vec(any::<u8>(), 0..4),
        ) {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let rsv = Rsv::from_bits_truncate(rsv_bits);
            let mut out = already.clone();
            push_frame(&mut out, opcode, &payload, fin, rsv, mask);
            prop_assert_eq!(&out[..already.len()], &already[..]);
            prop_assert!(out[already.len()..] == encoded_plainly(opcode, &payload, fin, rsv, mask)[..]);
        }

        #[test]
        fn push_short_frame_writes_what_push_message_frames_writes_or_nothing(
            len in 0usize..=140,
            text: bool,
            fragment_size in prop::option::of(1usize..=200),
            already in prop::collection::vec(any::<u8>(), 0..4),
        ) {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let opcode = if text { Opcode::Text } else { Opcode::Binary };
            let fragment_size = fragment_size.and_then(NonZeroUsize::new);
            let mut fast = already.clone();
            let taken = push_short_frame(&mut fast, opcode, &payload, fragment_size);
            prop_assert_eq!(taken, len <= 125 && fragment_size.is_none_or(|size| len <= size.get()));
            let mut plain = already.clone();
            if taken {
                push_message_frames(&mut plain, opcode, &payload, Rsv::NONE, fragment_size, &mut || None);
            }
            prop_assert_eq!(fast, plain);
        }
    }
}
