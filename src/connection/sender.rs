//! The sending half: frames encoded into an output buffer, control frames ahead of data.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::num::NonZeroUsize;

use crate::error::SendError;
use crate::event::MessageKind;
use crate::frame::{
    apply_mask, CloseBody, CloseCode, FrameHeader, Opcode, Rsv, MAX_CONTROL_PAYLOAD_LEN,
    MAX_HEADER_LEN,
};
use crate::random::RandomSource;
use crate::Role;

/// What the receiving half owes the peer, for the sending half to send (§5.5.2, §5.5.1).
///
/// With a whole [`Connection`](crate::Connection) this travels by itself. After
/// [`Connection::split`](crate::Connection::split), the caller moves each reply from
/// [`Receiver::poll_reply`](crate::Receiver::poll_reply) to [`Sender::send_reply`] by whatever
/// channel joins the two halves: no lock is involved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// A Pong echoing a Ping's payload.
    Pong(bytes::Bytes),
    /// The Close reply, echoing the peer's status code (`None` if the peer sent none).
    Close(Option<CloseCode>),
}

/// Where a sender is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendState {
    /// Messages may be sent.
    Open,
    /// A streamed message of this kind is in progress: only its pieces and control frames.
    Streaming,
    /// A Close was sent: nothing more but nothing else.
    CloseSent,
}

/// The sending half of a connection: encodes frames into its output buffer.
///
/// Pings and Pongs queue ahead of data frames that have not been taken yet (§5.4 allows control
/// frames between the fragments of a message), so they are not stuck behind megabytes of data.
/// A Close queues behind the data sent before it: nothing follows it (§5.5.1).
///
/// ```
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, Role};
///
/// let (_receiver, mut sender) =
///     Connection::open(Role::Server, Negotiated::default(), Config::default()).split();
/// sender.send_text("hi")?;
/// let mut out = Vec::new();
/// sender.poll_transmit(&mut out);
/// assert_eq!(out, [0x81, 0x02, b'h', b'i']);
/// # Ok::<(), wsmachine::SendError>(())
/// ```
#[derive(Debug)]
pub struct Sender<R> {
    role: Role,
    random: R,
    state: SendState,
    stream_kind: MessageKind,
    /// The Pong for the latest Ping, held while the output is over its limit.
    deferred_pong: Option<Box<bytes::Bytes>>,
    /// Control frames (and the handshake head) waiting to go ahead of the data: rare, so
    /// boxed (8 bytes in the connection instead of a `Vec`'s 24) and freed once taken.
    #[allow(clippy::box_collection)]
    control: Option<Box<Vec<u8>>>,
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
    pub(crate) fn new(
        role: Role,
        random: R,
        max_buffered: usize,
        fragment_size: Option<usize>,
    ) -> Self {
        Sender {
            role,
            random,
            state: SendState::Open,
            stream_kind: MessageKind::Binary,
            deferred_pong: None,
            control: None,
            data: Vec::new(),
            max_buffered,
            fragment_size: fragment_size.and_then(NonZeroUsize::new),
            #[cfg(feature = "deflate")]
            deflate: None,
            #[cfg(feature = "deflate")]
            stream_compressed: false,
        }
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
        match &mut self.control {
            Some(control) => control.extend_from_slice(&bytes),
            None => self.control = Some(Box::new(bytes)),
        }
    }

    /// Queues a text message, fragmented at the configured size; compressed if
    /// permessage-deflate is in force and the message reaches the compression threshold
    /// (`DeflateConfig::compression_threshold`, feature `deflate`).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        let compress = self.worth_compressing(text.len());
        self.queue_message(Opcode::Text, text.as_bytes(), compress)
    }

    /// Queues a binary message, like [`send_text`](Sender::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
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
    ) -> Result<(), SendError> {
        let opcode = match kind {
            MessageKind::Text => {
                simdutf8::basic::from_utf8(payload).map_err(|_| SendError::InvalidText)?;
                Opcode::Text
            }
            MessageKind::Binary => Opcode::Binary,
        };
        self.queue_message(opcode, payload, compress)
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
    fn worth_compressing(&self, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.deflate {
            return len >= deflate.threshold;
        }
        let _ = len;
        false
    }

    /// Queues a Ping; its payload must be at most 125 bytes (§5.5).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(Opcode::Ping, payload)
    }

    /// Queues an unsolicited Pong (a heartbeat, §5.5.3); at most 125 bytes.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(Opcode::Pong, payload)
    }

    /// Queues a Close with a code allowed on the wire and a reason of at most 123 bytes
    /// (§5.5.1); after it no message can be sent.
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let body = CloseBody::new(code, reason).map_err(SendError::InvalidClose)?;
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD_LEN];
        let len = body.encode(&mut payload).map_err(SendError::InvalidClose)?;
        if self.state == SendState::CloseSent {
            return Err(SendError::Closing);
        }
        self.push_close(&payload[..len]);
        Ok(())
    }

    /// Sends what the receiving half owes the peer. A Close reply after this end already sent
    /// a Close is dropped: each end sends one Close.
    pub fn send_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Pong(payload) => {
                if self.buffered_len() >= self.max_buffered {
                    // The output is not being drained: keep only the latest Pong (§5.5.3 lets
                    // an endpoint answer only the most recent Ping), so a Ping flood cannot
                    // grow the buffer.
                    self.deferred_pong = Some(Box::new(payload));
                    return;
                }
                // A Ping's payload is at most 125 bytes; after our Close nothing more is sent,
                // and the Pong is dropped.
                let _ = self.send_control(Opcode::Pong, &payload);
            }
            Reply::Close(code) => {
                if self.state == SendState::CloseSent {
                    return;
                }
                let mut payload = [0u8; 2];
                let len = match code {
                    Some(code) => {
                        payload = code.as_u16().to_be_bytes();
                        2
                    }
                    None => 0,
                };
                self.push_close(&payload[..len]);
            }
        }
    }

    /// Starts a message to be sent in pieces (a 1 GiB upload in constant memory); until
    /// [`send_piece`](Sender::send_piece) with `last`, only its pieces and control frames can
    /// be sent.
    pub fn begin_message(
        &mut self,
        kind: MessageKind,
        first_piece: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.check_can_send_data()?;
        let opcode = match kind {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        };
        self.stream_kind = kind;
        // A streamed message of unknown length is always compressed when deflate is on.
        #[cfg(feature = "deflate")]
        {
            self.stream_compressed = self.deflate.is_some();
        }
        self.push_piece(opcode, first_piece, last);
        if !last {
            self.state = SendState::Streaming;
        }
        Ok(())
    }

    /// Sends the next piece of the message begun with [`begin_message`](Sender::begin_message);
    /// `last` ends it.
    pub fn send_piece(&mut self, piece: &[u8], last: bool) -> Result<(), SendError> {
        match self.state {
            SendState::Streaming => {}
            SendState::Open => return Err(SendError::NoStream),
            SendState::CloseSent => return Err(SendError::Closing),
        }
        self.check_room(piece.len())?;
        self.push_piece(Opcode::Continuation, piece, last);
        if last {
            self.state = SendState::Open;
        }
        Ok(())
    }

    /// Whether a Close was sent.
    #[must_use]
    pub fn close_sent(&self) -> bool {
        self.state == SendState::CloseSent
    }

    /// How many bytes wait to be taken: the backpressure signal.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.control.as_ref().map_or(0, |control| control.len()) + self.data.len()
    }

    /// Appends all waiting output to `out`, control frames ahead of data frames, and returns
    /// how many bytes.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        if let Some(payload) = self.deferred_pong.take() {
            let _ = self.send_control(Opcode::Pong, &payload);
        }
        let len = self.buffered_len();
        if out.is_empty() && self.control.is_none() {
            // Hand over the whole buffer rather than copying it.
            core::mem::swap(out, &mut self.data);
            return len;
        }
        if let Some(control) = self.control.take() {
            // Control frames are rare and the handshake head is written once: their buffer is
            // freed rather than kept.
            out.extend_from_slice(&control);
        }
        out.extend_from_slice(&self.data);
        self.data.clear();
        len
    }

    /// Takes `buffer` (emptied) to queue data frames in, if no data frame waits; see
    /// [`Connection::lend_output_buffer`](crate::Connection::lend_output_buffer).
    pub fn lend_buffer(&mut self, mut buffer: Vec<u8>) {
        if self.data.is_empty() && buffer.capacity() > self.data.capacity() {
            buffer.clear();
            self.data = buffer;
        }
    }

    /// Frees the output buffers if nothing waits in them.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buffered_len() == 0 {
            self.control = None;
            self.data = Vec::new();
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_mut().filter(|_| self.state != SendState::Streaming)
        {
            deflate.release();
        }
    }

    fn queue_message(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        self.check_can_send_data()?;
        self.check_room(payload.len())?;
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_mut().filter(|_| compress) {
            let compressed = deflate.compress_piece(payload, true);
            self.push_message_frames(opcode, &compressed, Rsv::RSV1);
            self.restore_scratch(compressed);
            return Ok(());
        }
        let _ = compress;
        self.push_message_frames(opcode, payload, Rsv::NONE);
        Ok(())
    }

    /// Frames a whole message, fragmented at the configured size; `rsv` goes on the first
    /// frame only (RFC 7692 §6.1).
    fn push_message_frames(&mut self, opcode: Opcode, payload: &[u8], rsv: Rsv) {
        match self.fragment_size {
            Some(size) if payload.len() > size.get() => {
                let mut pieces = payload.chunks(size.get()).peekable();
                let (mut opcode, mut rsv) = (opcode, rsv);
                while let Some(piece) = pieces.next() {
                    self.push_data_frame(opcode, piece, pieces.peek().is_none(), rsv);
                    (opcode, rsv) = (Opcode::Continuation, Rsv::NONE);
                }
            }
            _ => self.push_data_frame(opcode, payload, true, rsv),
        }
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

    fn check_can_send_data(&self) -> Result<(), SendError> {
        match self.state {
            SendState::Open => Ok(()),
            SendState::Streaming => Err(SendError::StreamInProgress),
            SendState::CloseSent => Err(SendError::Closing),
        }
    }

    fn check_room(&self, payload_len: usize) -> Result<(), SendError> {
        if self.buffered_len().saturating_add(payload_len) > self.max_buffered {
            return Err(SendError::OutputFull);
        }
        Ok(())
    }

    fn send_control(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(SendError::ControlTooLong);
        }
        if self.state == SendState::CloseSent {
            return Err(SendError::Closing);
        }
        let mask = self.next_mask();
        push_frame(
            self.control.get_or_insert_with(Box::default),
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
        self.state = SendState::CloseSent;
    }

    fn push_data_frame(&mut self, opcode: Opcode, payload: &[u8], fin: bool, rsv: Rsv) {
        let mask = self.next_mask();
        push_frame(&mut self.data, opcode, payload, fin, rsv, mask);
    }

    /// A fresh masking key for a client's frame (§5.3), none for a server's.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        self.role.masks_outgoing_frames().then(|| {
            let mut key = [0u8; 4];
            self.random.fill_bytes(&mut key);
            key
        })
    }
}

/// Appends one frame to `out`, masking the payload when a key is given.
fn push_frame(
    out: &mut Vec<u8>,
    opcode: Opcode,
    payload: &[u8],
    fin: bool,
    rsv: Rsv,
    mask: Option<[u8; 4]>,
) {
    let mut header = FrameHeader::new(opcode, payload.len() as u64).with_fin(fin).with_rsv(rsv);
    header.mask = mask;
    let mut head = [0u8; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head).unwrap_or(0);
    out.reserve(head_len + payload.len());
    out.extend_from_slice(&head[..head_len]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
}
