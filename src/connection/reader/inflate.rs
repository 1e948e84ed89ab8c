//! Receiving compressed messages (RFC 7692 §6.2, §7.2.2): each compressed frame is inflated
//! in bounded steps, so the message limit applies to the inflated bytes while they are being
//! produced and a small frame can never make the receiver hold more than the limits allow.

use alloc::boxed::Box;
use bytes::{Buf, Bytes, BytesMut};

use super::{Message, Reader};
use crate::error::ProtocolError;
use crate::event::{Event, MessageKind, Piece, Text};
use crate::extensions::deflate::{Inflated, MessageDecompressor};
use crate::frame::{FrameHeader, Opcode};

/// The step by which the inflated buffer grows: doubling from here, so a large message costs
/// few reallocations and a bomb is stopped within one step of the limit.
const GROWTH_STEP: usize = 16 * 1024;

/// The size of the pieces a streamed compressed message is delivered in.
const PIECE_LEN: usize = 64 * 1024;

/// A compressed frame whose payload (unmasked) is being inflated.
#[derive(Debug)]
pub(crate) struct Inflating {
    /// The payload bytes not yet consumed by the decompressor.
    input: BytesMut,
    /// Bytes of the message tail (§7.2.2) still to inflate after `input`: four after the
    /// message's last frame, none before.
    tail_left: usize,
    fin: bool,
}

impl Reader {
    /// Inflates what arrives with RSV1 from now on (permessage-deflate was negotiated; the
    /// caller lets the header rules admit RSV1).
    pub(crate) fn enable_inflate(&mut self, inflate: crate::connection::compression::Inflate) {
        self.inflate = Some(Box::new(inflate));
    }

    /// Takes a whole compressed frame, unmasked, and starts inflating it.
    pub(super) fn start_inflating(&mut self, header: &FrameHeader, payload: BytesMut) {
        let wire_len = payload.len() as u64;
        match (header.opcode, &mut self.message) {
            (Opcode::Continuation, Some(message)) => {
                message.len += wire_len;
                message.fragments += 1;
            }
            (opcode, _) => {
                let kind =
                    if opcode == Opcode::Text { MessageKind::Text } else { MessageKind::Binary };
                self.utf8().reset();
                self.inflated.clear();
                self.message = Some(Box::new(Message {
                    kind,
                    data: BytesMut::new(),
                    len: wire_len,
                    fragments: 1,
                    streaming: false,
                    delivered_first_piece: false,
                    compressed: true,
                    partial: None,
                }));
            }
        }
        let tail_left = if header.fin { MessageDecompressor::message_tail().len() } else { 0 };
        self.inflating = Some(Box::new(Inflating { input: payload, tail_left, fin: header.fin }));
    }

    /// One or more bounded inflation steps of the current frame. `None` when the frame is used
    /// up without completing anything the caller sees yet.
    pub(super) fn continue_inflating(&mut self) -> Option<Result<Event, ProtocolError>> {
        loop {
            let step = self.inflate_step()?;
            let (frame_done, produced) = match step {
                Ok(step) => step,
                Err(error) => return Some(Err(self.fail(error))),
            };
            let message = self.message.as_ref()?;
            if message.kind == MessageKind::Text {
                let start = self.inflated.len() - produced;
                let Reader { utf8, inflated, .. } = self;
                if let Err(error) = utf8.get_or_insert_with(Box::default).feed(&inflated[start..]) {
                    return Some(Err(self.fail(error.into())));
                }
            }
            if frame_done {
                let fin = self.inflating.take().is_some_and(|frame| frame.fin);
                return if fin { self.finish_compressed_message() } else { self.flush_piece() };
            }
            if self.piece_is_due() {
                return self.flush_piece();
            }
        }
    }

    /// Inflates into the message buffer as far as the limits allow. Returns whether the frame
    /// is used up and how many bytes were produced.
    fn inflate_step(&mut self) -> Option<Result<(bool, usize), ProtocolError>> {
        let max_message_len = usize::try_from(self.max_message_len).unwrap_or(usize::MAX);
        let target = self.step_target();
        let Reader { inflate, inflating, inflated, .. } = self;
        let frame = inflating.as_mut()?;
        let decompressor = inflate.as_mut()?.decompressor();
        let start = inflated.len();
        // One byte past the message limit is room enough to see the limit broken.
        let room = target
            .min(max_message_len.saturating_add(1))
            .saturating_sub(start)
            .min(start.max(GROWTH_STEP));
        inflated.reserve_exact(room);
        inflated.resize(start + room, 0);
        let input: &[u8] = if frame.input.is_empty() {
            let tail = MessageDecompressor::message_tail();
            &tail[tail.len() - frame.tail_left..]
        } else {
            &frame.input
        };
        let result = decompressor.inflate(input, &mut inflated[start..]);
        let Ok(Inflated { consumed, produced }) = result else {
            inflated.truncate(start);
            return Some(Err(ProtocolError::InvalidCompressedData));
        };
        inflated.truncate(start + produced);
        if frame.input.is_empty() {
            frame.tail_left -= consumed;
        } else {
            frame.input.advance(consumed);
        }
        if inflated.len() > max_message_len {
            return Some(Err(ProtocolError::MessageTooBig { max: self.max_message_len }));
        }
        let filled = produced == room;
        let used_up = frame.input.is_empty() && frame.tail_left == 0;
        if !filled && !used_up && consumed == 0 {
            // Input left, room left, and the decompressor took nothing: it cannot go on.
            return Some(Err(ProtocolError::InvalidCompressedData));
        }
        Some(Ok((used_up && !filled, produced)))
    }

    /// How large the message buffer may grow in this step: the piece size once streaming, one
    /// byte past the streaming threshold before (to notice it is passed), else unbounded (the
    /// message limit applies).
    fn step_target(&self) -> usize {
        let streaming = self.message.as_ref().is_some_and(|m| m.streaming);
        match self.stream_above {
            _ if streaming => PIECE_LEN,
            u64::MAX => usize::MAX,
            limit => usize::try_from(limit).unwrap_or(usize::MAX).saturating_add(1),
        }
    }

    /// Whether the buffer should go out as a piece now: it reached the piece size, or the
    /// message passed the streaming threshold.
    fn piece_is_due(&self) -> bool {
        let len = self.inflated.len() as u64;
        let streaming = self.message.as_ref().is_some_and(|m| m.streaming);
        (streaming && len >= PIECE_LEN as u64) || len > self.stream_above
    }

    /// Delivers the inflated bytes so far as a piece of a streamed message, if the message is
    /// streamed (or must be from now on) and there are any.
    fn flush_piece(&mut self) -> Option<Result<Event, ProtocolError>> {
        let passed = self.inflated.len() as u64 > self.stream_above;
        let message = self.message.as_mut()?;
        message.streaming |= passed;
        if !message.streaming || self.inflated.is_empty() {
            return None;
        }
        let first = !core::mem::replace(&mut message.delivered_first_piece, true);
        let kind = message.kind;
        let data = self.take_inflated();
        Some(Ok(Event::Piece(Piece { kind, data, first, last: false })))
    }

    /// The message's last frame is inflated: checks its end and delivers it.
    fn finish_compressed_message(&mut self) -> Option<Result<Event, ProtocolError>> {
        self.inflate.as_mut()?.finish_message();
        let message = self.message.take()?;
        if message.kind == MessageKind::Text {
            if let Err(error) = self.utf8().finish() {
                return Some(Err(self.fail(error.into())));
            }
        }
        let data = self.take_inflated();
        Some(Ok(match (message.streaming, message.kind) {
            (true, kind) => Event::Piece(Piece {
                kind,
                data,
                first: !message.delivered_first_piece,
                last: true,
            }),
            (false, MessageKind::Text) => Event::Text(Text::from_validated(data)),
            (false, MessageKind::Binary) => Event::Binary(data.into()),
        }))
    }

    /// The inflated bytes as an event payload, without copying; the buffer starts afresh.
    fn take_inflated(&mut self) -> Bytes {
        Bytes::from(core::mem::take(&mut self.inflated))
    }
}
