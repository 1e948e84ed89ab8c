//! Reading frames: bytes in, frames checked and messages assembled, events out. Where the
//! connection is in its life is not kept here but in the lifecycle, which decides whether the
//! reader is asked at all.

#[cfg(feature = "deflate")]
mod inflate;

use alloc::boxed::Box;
use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::event::{CloseFrame, Event, EventRef, MessageKind, Piece, Text};
use crate::frame::{
    apply_mask_at, CloseBody, CloseCode, FrameHeader, HeaderRules, Opcode, Status, Utf8Validator,
};
use crate::{Config, Payload, Role};

/// A message whose frames are still arriving.
#[derive(Debug)]
struct Message {
    kind: MessageKind,
    /// The assembled payload; empty once the message is streamed.
    data: BytesMut,
    len: u64,
    fragments: u32,
    /// Delivered as [`Piece`]s rather than assembled.
    streaming: bool,
    /// Whether a piece of it has been delivered.
    delivered_first_piece: bool,
    /// Compressed with permessage-deflate (RSV1 on its first frame): `len` counts the bytes on
    /// the wire, and the inflated bytes collect in the receiver's `inflated` buffer.
    compressed: bool,
    /// The frame of a streamed message whose payload is being delivered as it arrives.
    partial: Option<PartialFrame>,
}

/// What a reader holds only for a moment (see [`Reader::take_pong`] and
/// [`Reader::poll_ready`]).
#[derive(Debug, Default)]
struct Held {
    /// The Pong owed for the latest Ping.
    pong_owed: Option<Bytes>,
    /// A whole message lent out by the last borrowed event that is not in `buf`; empty when
    /// none is.
    stash: Bytes,
}

/// A frame of a streamed message whose payload is being delivered as it arrives.
#[derive(Debug, Clone, Copy)]
struct PartialFrame {
    header: FrameHeader,
    /// Payload bytes already delivered.
    done: u64,
}

/// What one step of the frame loop found.
enum Step {
    /// An event that owns its data.
    Event(Event),
    /// A whole single-frame message at the front of the buffer, unmasked; a text one is
    /// validated except for its end (`Utf8Validator::finish`).
    Whole { opcode: Opcode, header_len: usize, frame_len: usize },
}

/// A whole message in one short frame at the front of the buffer, unmasked in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShortFrame {
    /// A text frame (else binary).
    pub(crate) text: bool,
    pub(crate) header_len: usize,
    pub(crate) frame_len: usize,
    /// The masking key, to mask the payload again.
    key: Option<[u8; 4]>,
}

/// A message or event ready to be lent out by [`Reader::lend`].
#[derive(Debug)]
pub(crate) enum Ready {
    /// An event that owns its data.
    Event(Event),
    /// A single-frame message at `start..end` of the receive buffer, unmasked and validated.
    InBuffer { kind: MessageKind, start: usize, end: usize },
    /// A message assembled from fragments or inflated, held in the receiver's `stash`.
    Stashed(MessageKind),
}

impl From<Event> for Ready {
    fn from(event: Event) -> Ready {
        Ready::Event(event)
    }
}

/// The frame reader of a connection: takes the bytes that arrived and reports events.
///
/// It never allocates for a length a header declares: payload bytes are kept as they arrive,
/// and a frame or message over the configured limits fails before its bytes are awaited. It
/// knows nothing of the connection's lifecycle: after an error or the peer's Close the
/// connection stops asking it.
#[derive(Debug)]
pub(crate) struct Reader {
    rules: HeaderRules,
    max_message_len: u64,
    max_fragments: u32,
    /// Messages longer than this are streamed; `u64::MAX` when none is.
    stream_above: u64,
    auto_pong: bool,
    /// A Pong arrived since [`take_pong_seen`](Reader::take_pong_seen) last asked: what
    /// answers a keepalive Ping.
    pong_seen: bool,
    pub(crate) buf: BytesMut,
    /// The transport ended: no more bytes will come.
    eof: bool,
    // What exists only while a message is in progress, a Pong is owed or a message is lent
    // from outside the buffer is boxed, so that an idle receiver is small.
    message: Option<Box<Message>>,
    /// The validator of text that arrives in pieces, allocated by the first such message
    /// and kept until the buffers are released.
    utf8: Option<Box<Utf8Validator>>,
    /// The Pong owed and the lent message held outside `buf`, in one box: both are rare.
    held: Option<Box<Held>>,
    /// Payload bytes of the text frame at the front of the buffer already unmasked and
    /// validated.
    checked: usize,
    /// Bytes at the front of `buf` already read: lent out by the last borrowed event, or
    /// messages the short-frame paths took. Dropped from `buf` at once by [`settle`]
    /// (Reader::settle), which every other path calls first, so that a run of short frames
    /// costs one cut of the buffer rather than one a frame.
    lent: usize,
    /// The length of the last large frame a read had to complete (see
    /// [`buffer_for_input`](Reader::buffer_for_input)), at most `u32::MAX`; 0 until one comes
    /// and again once the buffer is given back.
    #[cfg(feature = "tokio")]
    large_frame_len: u32,
    /// The longest payload [`whole_short_frame`](Reader::whole_short_frame) takes: 125 or
    /// less under the limits; `None` when the limits leave no room for it.
    short_frame_limit: Option<u8>,
    /// permessage-deflate, once negotiated.
    #[cfg(feature = "deflate")]
    inflate: Option<Box<super::compression::Inflate>>,
    /// The compressed frame being inflated, if any.
    #[cfg(feature = "deflate")]
    inflating: Option<Box<inflate::Inflating>>,
    /// The inflated bytes of the compressed message in progress.
    #[cfg(feature = "deflate")]
    inflated: alloc::vec::Vec<u8>,
}

impl Reader {
    pub(crate) fn new(role: Role, config: &Config) -> Reader {
        let mut rules = HeaderRules::new(role);
        rules.max_payload_len = config.max_frame_len;
        rules.allow_non_minimal_length = config.allow_non_minimal_length;
        Reader {
            rules,
            max_message_len: config.max_message_len,
            max_fragments: config.max_fragments,
            stream_above: config.stream_messages_above.unwrap_or(u64::MAX),
            auto_pong: config.auto_pong,
            pong_seen: false,
            buf: BytesMut::new(),
            eof: false,
            message: None,
            utf8: None,
            held: None,
            checked: 0,
            #[cfg(feature = "tokio")]
            large_frame_len: 0,
            lent: 0,
            short_frame_limit: short_frame_limit(config),
            #[cfg(feature = "deflate")]
            inflate: None,
            #[cfg(feature = "deflate")]
            inflating: None,
            #[cfg(feature = "deflate")]
            inflated: alloc::vec::Vec::new(),
        }
    }

    /// Lets the negotiated extensions claim RSV bits (§5.2).
    pub(crate) fn set_allowed_rsv(&mut self, rsv: crate::frame::Rsv) {
        self.rules.allowed_rsv = rsv;
    }

    /// Takes bytes that arrived from the peer, in any chunking; none after the end of input.
    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        if !self.eof {
            self.settle();
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The receive buffer, settled and with room in it, for bytes that arrive to be appended
    /// to it where a caller can read straight into it, with the most the read should take
    /// (`usize::MAX`: no limit); `None` when it holds no allocation (an idle connection holds
    /// none: its reads go through a buffer the caller shares) or after the end of input.
    ///
    /// A read gets `room` bytes, except that the rest of a frame of `room` bytes or more is
    /// read alone, up to where the frame ends: the frame then comes out whole, with no next
    /// frame's head after it to be moved to the front of the buffer (or into a new one) to
    /// make room for its tail, a copy of nearly the whole frame each time. For the same
    /// reason a read into an empty buffer takes no more than the last large frame, from the
    /// buffer's front if need be (an empty buffer moves nothing). The room for a frame's rest
    /// is no more than what has come of it (or `room`), so that a peer that sends a long
    /// frame's header and little else gets no more memory than a read's. No read is limited
    /// to more than `max_read`.
    #[cfg(feature = "tokio")]
    pub(crate) fn buffer_for_input(
        &mut self,
        room: usize,
        max_read: usize,
    ) -> Option<(&mut BytesMut, usize)> {
        if self.eof || self.buf.capacity() == 0 {
            return None;
        }
        self.settle();
        let missing = self.front_frame_missing();
        let limit = if missing > 0 && self.buf.len() + missing >= room {
            self.large_frame_len = u32::try_from(self.buf.len() + missing).unwrap_or(u32::MAX);
            missing.min(self.buf.len().max(room))
        } else if self.buf.is_empty() {
            let last = self.large_frame_len as usize;
            // No allocation for a frame that has not come: only room already held.
            let _fits = self.buf.try_reclaim(last);
            last
        } else {
            0
        };
        let limit = match limit.min(max_read) {
            0 => {
                self.buf.reserve(room);
                usize::MAX
            }
            limit => {
                self.buf.reserve(limit);
                limit
            }
        };
        Some((&mut self.buf, limit))
    }

    /// How many bytes the long frame (an extended length: more than 125 payload bytes) at
    /// the front of the (settled) buffer still lacks: 0 when it is whole, when the front
    /// frame is short, when its header has not all arrived or is invalid (the frame loop
    /// reports that), or while a streamed frame's payload is delivered as it arrives.
    #[cfg(feature = "tokio")]
    fn front_frame_missing(&self) -> usize {
        // A short frame is never worth a read of its own: the quick test keeps a stream of
        // them from parsing a header a read.
        let long = self.buf.get(1).is_some_and(|second| second & 0x7f >= 126);
        if !long || self.message.as_ref().is_some_and(|message| message.partial.is_some()) {
            return 0;
        }
        match FrameHeader::parse(&self.buf, &self.rules) {
            Ok(Status::Complete((header, header_len))) => usize::try_from(header.payload_len)
                .map_or(usize::MAX, |payload_len| payload_len.saturating_add(header_len))
                .saturating_sub(self.buf.len()),
            _ => 0,
        }
    }

    /// Records that the peer closed its side of the transport (EOF).
    pub(crate) fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Frees the receive buffer if it holds nothing, and a decompressor that keeps no context
    /// if no message is in progress.
    pub(crate) fn release_if_empty(&mut self) {
        self.settle();
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
            #[cfg(feature = "tokio")]
            {
                self.large_frame_len = 0;
            }
        }
        if self.message.is_none() && self.checked == 0 {
            self.utf8 = None;
        }
        if self.held.as_ref().is_some_and(|held| held.pong_owed.is_none()) {
            self.held = None;
        }
        #[cfg(feature = "deflate")]
        if let Some(inflate) = self.inflate.as_mut().filter(|_| self.message.is_none()) {
            inflate.release();
        }
    }

    /// The role whose rules the frames are read by.
    pub(crate) fn role(&self) -> Role {
        self.rules.role
    }

    /// Whether the transport has ended.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// Bytes received and not yet turned into events.
    pub(crate) fn buffered_len(&self) -> usize {
        self.buf.len() - self.lent
    }

    /// Whether a Pong arrived since the last call.
    pub(crate) fn take_pong_seen(&mut self) -> bool {
        core::mem::take(&mut self.pong_seen)
    }

    /// The Pong owed for the latest Ping, if `auto_pong` (§5.5.3 lets an endpoint answer only
    /// the most recent Ping): at most one is held, whatever the peer sends.
    pub(crate) fn take_pong(&mut self) -> Option<Bytes> {
        self.held.as_mut()?.pong_owed.take()
    }

    /// The next event, or `None` until more bytes arrive (then, if [`is_eof`](Reader::is_eof),
    /// never). After an error, or the peer's Close, the reader must not be polled again.
    pub(crate) fn poll_event(&mut self) -> Option<Result<Event, ProtocolError>> {
        self.settle();
        match self.poll_step()? {
            Ok(Step::Event(event)) => Some(Ok(event)),
            Ok(Step::Whole { opcode, header_len, frame_len }) => {
                let mut payload = self.buf.split_to(frame_len);
                payload.advance(header_len);
                Some(self.on_whole_message(opcode, payload))
            }
            Err(error) => Some(Err(error)),
        }
    }

    /// The first half of a borrowed poll: finds the next event and marks what it will borrow,
    /// without borrowing it yet.
    pub(crate) fn poll_ready(&mut self) -> Option<Result<Ready, ProtocolError>> {
        self.settle();
        Some(match self.poll_step()? {
            Ok(Step::Event(Event::Text(text))) => {
                self.held().stash = text.into_bytes();
                Ok(Ready::Stashed(MessageKind::Text))
            }
            Ok(Step::Event(Event::Binary(data))) => {
                self.held().stash = data.into_bytes();
                Ok(Ready::Stashed(MessageKind::Binary))
            }
            Ok(Step::Event(event)) => Ok(Ready::Event(event)),
            Ok(Step::Whole { opcode, header_len, frame_len }) => {
                let kind = if opcode == Opcode::Text {
                    if let Err(error) = self.utf8().finish() {
                        return Some(Err(self.fail(error.into())));
                    }
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                self.lent = frame_len;
                Ok(Ready::InBuffer { kind, start: header_len, end: frame_len })
            }
            Err(error) => Err(error),
        })
    }

    /// The second half of a borrowed poll: the event, borrowing what
    /// [`poll_ready`](Reader::poll_ready) marked. Text was validated there; it is
    /// checked again here because the crate forbids `unsafe` (as in [`Text::as_str`]).
    pub(crate) fn lend(&self, ready: Ready) -> EventRef<'_> {
        let (kind, bytes) = match ready {
            Ready::Event(event) => return EventRef::Other(event),
            Ready::InBuffer { kind, start, end } => (kind, &self.buf[start..end]),
            Ready::Stashed(kind) => {
                (kind, self.held.as_ref().map_or(&[][..], |held| &held.stash[..]))
            }
        };
        match kind {
            MessageKind::Text => {
                EventRef::Text(simdutf8::basic::from_utf8(bytes).unwrap_or_default())
            }
            MessageKind::Binary => EventRef::Binary(bytes),
        }
    }

    /// Drops what was read already (see `lent`) and what the last borrowed event lent out.
    #[inline]
    pub(crate) fn settle(&mut self) {
        if self.lent != 0 {
            if self.lent == self.buf.len() {
                self.buf.clear();
            } else {
                self.buf.advance(self.lent);
            }
            self.lent = 0;
        }
        self.settle_stash();
    }

    /// Drops the message the last borrowed event lent from outside `buf`.
    #[inline]
    pub(crate) fn settle_stash(&mut self) {
        if let Some(held) = self.held.as_mut().filter(|held| !held.stash.is_empty()) {
            held.stash = Bytes::new();
        }
    }

    /// Runs the frame loop until something is found: an event, a whole single-frame message
    /// left in the buffer, an error, or `None` until more bytes arrive.
    fn poll_step(&mut self) -> Option<Result<Step, ProtocolError>> {
        loop {
            if let Some(partial) = self.message.as_ref().and_then(|message| message.partial) {
                return self.continue_partial(partial).map(|result| result.map(Step::Event));
            }
            #[cfg(feature = "deflate")]
            if self.inflating.is_some() {
                match self.continue_inflating() {
                    Some(result) => return Some(result.map(Step::Event)),
                    None => continue,
                }
            }
            if let Some(step) = self.whole_short_frame() {
                return Some(Ok(step));
            }
            let (header, header_len) = match FrameHeader::parse(&self.buf, &self.rules) {
                Ok(Status::Complete(parsed)) => parsed,
                Ok(Status::Incomplete { .. }) => return None,
                Err(error) => return Some(Err(self.fail(error.into()))),
            };
            let compressed = match self.is_compressed(&header) {
                Ok(compressed) => compressed,
                Err(error) => return Some(Err(self.fail(error))),
            };
            if header.opcode.is_data() {
                if let Err(error) = self.check_data_frame(&header) {
                    return Some(Err(self.fail(error)));
                }
                // A compressed frame is inflated whole, in bounded steps: its raw bytes are
                // not the message's.
                if !compressed && self.should_stream(&header) {
                    if let Some(flushed) = self.start_streaming(&header, header_len) {
                        return Some(Ok(Step::Event(flushed)));
                    }
                    continue;
                }
            }
            if !compressed && self.is_text(&header) {
                if let Err(error) = self.check_text_so_far(&header, header_len) {
                    return Some(Err(self.fail(error.into())));
                }
            }
            // A length that does not fit in memory cannot be in the buffer yet.
            let frame_len = usize::try_from(header.payload_len)
                .map_or(usize::MAX, |payload_len| payload_len.saturating_add(header_len));
            if self.buf.len() < frame_len {
                return None;
            }
            // A text frame's payload is already unmasked and validated as it arrived.
            let checked = core::mem::take(&mut self.checked);
            if let Some(key) = header.mask {
                apply_mask_at(&mut self.buf[header_len + checked..frame_len], key, checked);
            }
            let whole_message =
                header.fin && matches!(header.opcode, Opcode::Text | Opcode::Binary);
            if whole_message && !compressed {
                return Some(Ok(Step::Whole { opcode: header.opcode, header_len, frame_len }));
            }
            let mut payload = self.buf.split_to(frame_len);
            payload.advance(header_len);
            #[cfg(feature = "deflate")]
            if compressed {
                self.start_inflating(&header, payload);
                continue;
            }
            match self.on_frame(header, payload) {
                Some(result) => return Some(result.map(Step::Event)),
                None => continue,
            }
        }
    }

    /// [`short_frame_event`](Reader::short_frame_event)'s message as a
    /// [`Message`](crate::Message), for the adapters' `recv`.
    #[inline]
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn short_frame_message(&mut self) -> Option<crate::Message> {
        let (text, payload) = self.short_frame_payload()?;
        Some(crate::Message::whole(text, payload))
    }

    /// The common case in one step: a whole text or binary message in one short frame,
    /// unmasked and, if text, validated; see [`take_short_frame`](Reader::take_short_frame).
    /// Invalid text is masked again and left to the general path, which reports where the
    /// error is.
    #[inline]
    fn whole_short_frame(&mut self) -> Option<Step> {
        let frame = self.take_valid_short_frame()?;
        let opcode = if frame.text { Opcode::Text } else { Opcode::Binary };
        Some(Step::Whole { opcode, header_len: frame.header_len, frame_len: frame.frame_len })
    }

    /// [`take_short_frame`](Reader::take_short_frame), with its text validated: invalid text
    /// is masked again and left to the general path, which reports where the error is.
    #[inline]
    pub(crate) fn take_valid_short_frame(&mut self) -> Option<ShortFrame> {
        let frame = self.take_short_frame()?;
        let payload = &mut self.buf[frame.header_len..frame.frame_len];
        if frame.text && crate::frame::validate_short(payload).is_err() {
            if let Some(key) = frame.key {
                apply_mask_at(payload, key, 0);
            }
            return None;
        }
        Some(frame)
    }

    /// [`whole_short_frame`](Reader::whole_short_frame) as an owned event, for
    /// `Connection::poll_event`'s fast path.
    #[inline]
    pub(crate) fn short_frame_event(&mut self) -> Option<Event> {
        let (text, payload) = self.short_frame_payload()?;
        Some(if text { Event::Text(Text::from_validated(payload)) } else { Event::Binary(payload) })
    }

    /// [`whole_short_frame`](Reader::whole_short_frame)'s message taken out of the buffer:
    /// whether it is text, and its payload. Each caller builds its own value around it, so
    /// that the payload is not moved from one enum to another on the way.
    #[inline]
    fn short_frame_payload(&mut self) -> Option<(bool, Payload)> {
        self.settle_stash();
        let Step::Whole { opcode, header_len, frame_len } = self.whole_short_frame()? else {
            return None;
        };
        // A short payload is copied out (cheaper than the two atomic operations of sharing
        // the buffer) and its frame left to be dropped with the next ones; a longer one is
        // cut out of the buffer.
        let payload = if let Some(inline) =
            Payload::inline_at(&self.buf, header_len, frame_len - header_len)
        {
            self.lent = frame_len;
            inline
        } else {
            // Positions are in the whole buffer, past what was read before this frame.
            let read = self.lent;
            self.settle();
            let mut payload = self.buf.split_to(frame_len - read);
            payload.advance(header_len - read);
            Payload::from(payload.freeze())
        };
        Some((opcode == Opcode::Text, payload))
    }

    /// The common case, found and unmasked in place without the general frame loop: a whole
    /// text or binary message in one frame with a 7-bit length (§5.2), complete at the front of
    /// the unread bytes (past `lent`; its positions are in the whole buffer), while no message
    /// is in progress and within every limit. Its text is not validated yet. Anything else,
    /// every error included, is `None`, for the general path.
    #[inline]
    pub(crate) fn take_short_frame(&mut self) -> Option<ShortFrame> {
        let limit = self.short_frame_limit?;
        if !self.at_message_boundary() {
            return None;
        }
        let read = self.lent;
        let frame = short_frame_at(self.buf.get_mut(read..)?, limit, self.rules.role)?;
        Some(ShortFrame {
            header_len: read + frame.header_len,
            frame_len: read + frame.frame_len,
            ..frame
        })
    }

    /// Whether the next frame starts a message and nothing else is in progress: the fast
    /// paths may take it.
    #[inline]
    fn at_message_boundary(&self) -> bool {
        #[cfg(feature = "deflate")]
        if self.inflating.is_some() {
            return false;
        }
        self.message.is_none() && self.checked == 0
    }

    /// Whether bytes can be read where the caller holds them ([`Connection::receive_in_place`]
    /// (crate::Connection::receive_in_place)): nothing is buffered or in progress.
    #[inline]
    pub(crate) fn reads_in_place(&mut self) -> bool {
        self.settle();
        self.buf.is_empty() && !self.eof && self.at_message_boundary()
    }

    /// A whole text or binary message in one frame of any length at the front of `bytes`
    /// (the caller's buffer, not the connection's), unmasked in place when it is within every
    /// limit; its text is not validated yet. Anything else is `None` and leaves `bytes` as it
    /// was. Call only when [`reads_in_place`](Reader::reads_in_place).
    #[inline]
    pub(crate) fn whole_frame_in(&self, bytes: &mut [u8]) -> Option<ShortFrame> {
        if let Some(frame) =
            self.short_frame_limit.and_then(|limit| short_frame_at(bytes, limit, self.rules.role))
        {
            return Some(frame);
        }
        let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(bytes, &self.rules)
        else {
            return None;
        };
        let text = match header.opcode {
            Opcode::Text => true,
            Opcode::Binary => false,
            _ => return None,
        };
        if !header.fin
            || header.rsv != crate::frame::Rsv::NONE
            || self.max_fragments == 0
            || header.payload_len > self.max_message_len
            || header.payload_len > self.stream_above
        {
            return None;
        }
        let frame_len = usize::try_from(header.payload_len).ok()?.checked_add(header_len)?;
        let payload = bytes.get_mut(header_len..frame_len)?;
        if let Some(key) = header.mask {
            apply_mask_at(payload, key, 0);
        }
        Some(ShortFrame { text, header_len, frame_len, key: header.mask })
    }

    /// How many of the `incoming` bytes complete the frame at the front of the buffer (or, if
    /// nothing is buffered, make up the first frame of `incoming`), so that
    /// [`Connection::receive_in_place`](crate::Connection::receive_in_place) hands the
    /// connection one frame at a time and reads the rest in place. `None` when that is not
    /// known (a frame being streamed or inflated, a header incomplete or invalid): then all of
    /// them go.
    pub(crate) fn front_frame_needs(&self, incoming: &[u8]) -> Option<usize> {
        #[cfg(feature = "deflate")]
        if self.inflating.is_some() {
            return None;
        }
        let streaming_frame = self.message.as_ref().is_some_and(|m| m.partial.is_some());
        if self.eof || streaming_frame {
            return None;
        }
        let buffered = &self.buf[self.lent..];
        let front = if buffered.is_empty() { incoming } else { buffered };
        match FrameHeader::parse(front, &self.rules) {
            Ok(Status::Complete((header, header_len))) => {
                let frame_len =
                    usize::try_from(header.payload_len).ok()?.checked_add(header_len)?;
                Some(frame_len.saturating_sub(buffered.len()))
            }
            Ok(Status::Incomplete { needed }) if !buffered.is_empty() => Some(needed),
            _ => None,
        }
    }

    /// As [`whole_frame_in`](Reader::whole_frame_in), for a message short enough to be held
    /// inline in a [`Payload`] only (checked before anything is unmasked).
    #[inline]
    pub(crate) fn inline_frame_in(&self, bytes: &mut [u8]) -> Option<ShortFrame> {
        let inline = u8::try_from(crate::payload::INLINE_CAPACITY).unwrap_or(u8::MAX);
        let limit = self.short_frame_limit?.min(inline);
        short_frame_at(bytes, limit, self.rules.role)
    }

    /// Takes a frame that [`whole_frame_in`](Reader::whole_frame_in) unmasked in the
    /// caller's buffer but that the general path must read (its text is invalid): it is
    /// copied in and masked again, as it arrived.
    pub(crate) fn receive_unmasked(&mut self, frame_bytes: &[u8], frame: &ShortFrame) {
        let start = self.buf.len();
        self.receive(frame_bytes);
        if let (Some(key), Some(payload)) =
            (frame.key, self.buf.get_mut(start + frame.header_len..))
        {
            apply_mask_at(payload, key, 0);
        }
    }

    /// Lends the frame [`take_short_frame`](Reader::take_short_frame) found: it is dropped
    /// from the buffer, with what was read before it, when the general path next runs.
    pub(crate) fn lend_short_frame(&mut self, frame: &ShortFrame) {
        self.lent = frame.frame_len;
    }

    /// The receive buffer, for a borrowed event's payload.
    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Drops everything received and in progress: the connection reads no more.
    pub(crate) fn release_all(&mut self) {
        self.discard_all();
        self.buf = BytesMut::new();
        self.utf8 = None;
    }

    /// Whether a frame belongs to a compressed message: RSV1 on a message's first frame
    /// (permessage-deflate's "Per-Message Compressed" bit, RFC 7692 §6), and on no other frame.
    /// The header rules admit RSV1 only once the extension is negotiated.
    fn is_compressed(&self, header: &FrameHeader) -> Result<bool, ProtocolError> {
        match header.opcode {
            Opcode::Text | Opcode::Binary => Ok(header.rsv.rsv1()),
            _ if header.rsv.rsv1() => Err(ProtocolError::MisplacedCompressionBit),
            Opcode::Continuation => Ok(self.message.as_ref().is_some_and(|m| m.compressed)),
            _ => Ok(false),
        }
    }

    /// Whether a data frame carries text: a Text frame or a continuation of a text message.
    fn is_text(&self, header: &FrameHeader) -> bool {
        match header.opcode {
            Opcode::Text => true,
            Opcode::Continuation => {
                self.message.as_ref().is_some_and(|m| m.kind == MessageKind::Text)
            }
            _ => false,
        }
    }

    /// Unmasks and validates the payload bytes of the text frame at the front of the buffer
    /// that arrived since the last call, so invalid UTF-8 fails as soon as it arrives, not when
    /// its frame is complete (§8.1; Autobahn 6.4.x "fail fast").
    fn check_text_so_far(
        &mut self,
        header: &FrameHeader,
        header_len: usize,
    ) -> Result<(), crate::frame::Utf8Error> {
        if header.opcode == Opcode::Text && self.checked == 0 {
            self.utf8().reset(); // a new text message
        }
        let buffered = self.buf.len() - header_len;
        let available =
            usize::try_from(header.payload_len).map_or(buffered, |len| len.min(buffered));
        if available <= self.checked {
            return Ok(());
        }
        let Reader { buf, utf8, checked, .. } = self;
        let fresh = &mut buf[header_len + *checked..header_len + available];
        if let Some(key) = header.mask {
            apply_mask_at(fresh, key, *checked);
        }
        *checked = available;
        utf8.get_or_insert_with(Box::default).feed(fresh)
    }

    /// Fragmentation and size rules of a data frame's header (§5.4), before its payload.
    fn check_data_frame(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (header.opcode, &self.message) {
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            _ => {}
        }
        let (so_far, fragments) = self.message.as_ref().map_or((0, 0), |m| (m.len, m.fragments));
        if so_far.saturating_add(header.payload_len) > self.max_message_len {
            return Err(ProtocolError::MessageTooBig { max: self.max_message_len });
        }
        if fragments >= self.max_fragments {
            return Err(ProtocolError::TooManyFragments { max: self.max_fragments });
        }
        Ok(())
    }

    fn should_stream(&self, header: &FrameHeader) -> bool {
        let so_far = self.message.as_ref().map_or(0, |m| m.len);
        self.message.as_ref().is_some_and(|m| m.streaming)
            || so_far.saturating_add(header.payload_len) > self.stream_above
    }

    /// Turns the message this frame belongs to into a stream and starts delivering the frame.
    /// Returns the assembled beginning of the message as a first piece, if there was one.
    fn start_streaming(&mut self, header: &FrameHeader, header_len: usize) -> Option<Event> {
        if let Some(message) = &mut self.message {
            if !message.streaming {
                message.streaming = true;
                if !message.data.is_empty() {
                    message.delivered_first_piece = true;
                    let data = message.data.split().freeze();
                    return Some(Event::Piece(Piece {
                        kind: message.kind,
                        data,
                        first: true,
                        last: false,
                    }));
                }
            }
        } else {
            let kind =
                if header.opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
            self.utf8().reset();
            self.message = Some(Box::new(Message {
                kind,
                data: BytesMut::new(),
                len: 0,
                fragments: 0,
                streaming: true,
                delivered_first_piece: false,
                compressed: false,
                partial: None,
            }));
        }
        if let Some(message) = &mut self.message {
            message.len += header.payload_len;
            message.fragments += 1;
            message.partial = Some(PartialFrame { header: *header, done: 0 });
        }
        self.buf.advance(header_len);
        None
    }

    /// Delivers what has arrived of a streamed frame's payload.
    fn continue_partial(
        &mut self,
        mut partial: PartialFrame,
    ) -> Option<Result<Event, ProtocolError>> {
        let remaining = partial.header.payload_len - partial.done;
        let available =
            usize::try_from(remaining).map_or(self.buf.len(), |r| r.min(self.buf.len()));
        if available == 0 && remaining > 0 {
            return None;
        }
        let mut data = self.buf.split_to(available);
        if let Some(key) = partial.header.mask {
            // Only the offset modulo 4 matters, so truncating it on 32-bit targets is harmless.
            #[allow(clippy::cast_possible_truncation)]
            apply_mask_at(&mut data, key, partial.done as usize);
        }
        partial.done += available as u64;
        let frame_done = partial.done == partial.header.payload_len;
        let last = frame_done && partial.header.fin;
        let message = self.message.as_mut()?;
        message.partial = (!frame_done).then_some(partial);
        let kind = message.kind;
        let first = !message.delivered_first_piece;
        message.delivered_first_piece = true;
        if last {
            self.message = None;
        }
        if kind == MessageKind::Text {
            let utf8 = self.utf8();
            let checked = utf8.feed(&data).and_then(|()| if last { utf8.finish() } else { Ok(()) });
            if let Err(error) = checked {
                return Some(Err(self.fail(error.into())));
            }
        }
        Some(Ok(Event::Piece(Piece { kind, data: data.freeze(), first, last })))
    }

    /// Handles a whole frame; `None` when it completes nothing the caller sees yet.
    fn on_frame(
        &mut self,
        header: FrameHeader,
        payload: BytesMut,
    ) -> Option<Result<Event, ProtocolError>> {
        match header.opcode {
            Opcode::Ping => {
                let payload = payload.freeze();
                if self.auto_pong {
                    self.held().pong_owed = Some(payload.clone());
                }
                Some(Ok(Event::Ping(payload)))
            }
            Opcode::Pong => {
                self.pong_seen = true;
                Some(Ok(Event::Pong(payload.freeze())))
            }
            Opcode::Close => Some(self.on_close(payload.freeze())),
            // A whole message is a `Step::Whole`; this is the first frame of a fragmented one.
            Opcode::Text | Opcode::Binary => {
                let kind = if header.opcode == Opcode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                self.message = Some(Box::new(Message {
                    kind,
                    len: payload.len() as u64,
                    data: payload,
                    fragments: 1,
                    streaming: false,
                    delivered_first_piece: false,
                    compressed: false,
                    partial: None,
                }));
                None
            }
            Opcode::Continuation => self.on_continuation(header.fin, &payload),
        }
    }

    fn on_whole_message(
        &mut self,
        opcode: Opcode,
        payload: BytesMut,
    ) -> Result<Event, ProtocolError> {
        if opcode == Opcode::Binary {
            return Ok(Event::Binary(payload.freeze().into()));
        }
        // The payload was validated as it arrived; only its end remains to check.
        if let Err(error) = self.utf8().finish() {
            return Err(self.fail(error.into()));
        }
        Ok(Event::Text(Text::from_validated(payload.freeze())))
    }

    fn on_continuation(
        &mut self,
        fin: bool,
        payload: &[u8],
    ) -> Option<Result<Event, ProtocolError>> {
        let message = self.message.as_mut()?;
        message.data.extend_from_slice(payload);
        message.len += payload.len() as u64;
        message.fragments += 1;
        let kind = message.kind;
        if kind == MessageKind::Text && fin {
            // The payload was validated as it arrived; only the message's end remains.
            if let Err(error) = self.utf8().finish() {
                return Some(Err(self.fail(error.into())));
            }
        }
        if !fin {
            return None;
        }
        let data = self.message.take()?.data.freeze();
        Some(Ok(match kind {
            MessageKind::Text => Event::Text(Text::from_validated(data)),
            MessageKind::Binary => Event::Binary(data.into()),
        }))
    }

    /// The peer's Close (§5.5.1): reported with its code (1005 when it has none); whatever
    /// follows it is ignored, so the buffer is dropped.
    fn on_close(&mut self, payload: Bytes) -> Result<Event, ProtocolError> {
        let code = match CloseBody::parse(&payload) {
            Ok(body) => body.map_or(CloseCode::NO_STATUS_RECEIVED, |body| body.code()),
            Err(error) => return Err(self.fail(error.into())),
        };
        self.discard_all();
        let reason = if payload.len() > 2 { payload.slice(2..) } else { Bytes::new() };
        Ok(Event::Close(CloseFrame { code, reason: Text::from_validated(reason) }))
    }

    /// A protocol error (§7.1.7): input and everything in progress is dropped; the connection
    /// fails with the error's code.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        self.discard_all();
        error
    }

    /// Drops the input and everything in progress. A Pong owed for a Ping read before stays
    /// owed (§5.5.2: the Ping came before any Close).
    fn discard_all(&mut self) {
        self.buf.clear();
        self.lent = 0;
        self.checked = 0;
        self.message = None;
        #[cfg(feature = "deflate")]
        {
            self.inflating = None;
            self.inflated = alloc::vec::Vec::new();
        }
        if self.held.as_ref().is_some_and(|held| held.pong_owed.is_none()) {
            self.held = None;
        } else if let Some(held) = self.held.as_mut() {
            held.stash = Bytes::new();
        }
    }

    /// The box of rare holdings, allocated on first use.
    fn held(&mut self) -> &mut Held {
        self.held.get_or_insert_with(Box::default)
    }

    /// The validator of text arriving in pieces, allocated on first use.
    fn utf8(&mut self) -> &mut Utf8Validator {
        self.utf8.get_or_insert_with(Box::default)
    }
}

/// A whole text or binary message in one frame with a 7-bit length of at most `limit` at the
/// front of `bytes`, masked as a frame to `role` must be, unmasked in place.
#[inline]
fn short_frame_at(bytes: &mut [u8], limit: u8, role: Role) -> Option<ShortFrame> {
    let [first, second, ..] = *bytes else { return None };
    // FIN set, no RSV bit, opcode 1 (text) or 2 (binary).
    let text = match first {
        0x81 => true,
        0x82 => false,
        _ => return None,
    };
    let len = second & 0x7f;
    let masked = second & 0x80 != 0;
    if len > limit || masked != (role == Role::Server) {
        return None;
    }
    let header_len = if masked { 6 } else { 2 };
    let frame_len = header_len + usize::from(len);
    let frame = bytes.get_mut(..frame_len)?;
    let (head, payload) = frame.split_at_mut(header_len);
    let key = match *head {
        [_, _, a, b, c, d] => Some([a, b, c, d]),
        _ => None,
    };
    if let Some(key) = key {
        crate::frame::apply_mask_short(payload, key);
    }
    Some(ShortFrame { text, header_len, frame_len, key })
}

/// The longest payload a single short frame may carry under `config` and still be taken by
/// the fast path (`Reader::whole_short_frame`): what the frame and message limits and
/// streaming allow, at most 125 (§5.2's 7-bit length).
fn short_frame_limit(config: &Config) -> Option<u8> {
    if config.max_fragments == 0 {
        return None;
    }
    let mut limit = 125u64.min(config.max_frame_len).min(config.max_message_len);
    if let Some(stream_above) = config.stream_messages_above {
        // Streaming starts above `stream_above`; an empty message is never streamed.
        limit = limit.min(stream_above);
    }
    u8::try_from(limit).ok()
}
