//! Broadcast: a message framed once (and compressed once, where the connection keeps no
//! compression context) and queued on any number of server connections as shared bytes.

use alloc::vec::Vec;
use bytes::Bytes;
use core::num::NonZeroUsize;

use super::sender::push_message_frames;
use crate::event::{MessageKind, Text};
use crate::frame::{Opcode, Rsv};

#[cfg(feature = "deflate")]
use crate::extensions::deflate::CompressorSettings;

/// How a server connection puts a message on the wire: the size it fragments at, and the
/// shared compressor that compresses it (window bits and settings) when it is compressed.
/// Two connections with the same encoding send the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoding {
    pub(crate) fragment_size: Option<NonZeroUsize>,
    #[cfg(feature = "deflate")]
    pub(crate) compressor: Option<(u8, CompressorSettings)>,
}

/// A message to send to many connections, framed once per distinct [encoding]: a server
/// connection queues the frames as a reference-counted [`Bytes`], with no framing, masking,
/// compression or copy of its own (gorilla/websocket's `PreparedMessage`, uWebSockets'
/// `publish`).
///
/// Each server connection sends it with [`Sender::send_prepared`](crate::Sender::send_prepared).
/// The frames for a connection's fragment size and compressor are made by the first
/// connection that needs them and kept for the others: uncompressed frames, and frames
/// compressed by a compressor without context (`server_no_context_takeover`, the `shared`
/// preset, feature `deflate`), whose output
/// depends on the message alone. A connection whose compressor keeps context compresses the
/// message itself, as [`send_text`](crate::Sender::send_text) would, since its output depends
/// on the messages before; so does a client, which masks every frame with a key of its own
/// (§5.3).
///
/// With the `std` feature it is `Send + Sync`: share one in an `Arc` between tasks or threads.
///
/// [encoding]: PreparedMessage::encodings
///
/// ```
/// use std::time::Instant;
/// use wsmachine::handshake::Negotiated;
/// use wsmachine::{Config, Connection, PreparedMessage, Role};
///
/// let news = PreparedMessage::text(r#"{"price":101.5}"#);
/// let mut room: Vec<Connection> = (0..3)
///     .map(|_| Connection::open(Role::Server, Negotiated::default(), Config::default(), Instant::now()))
///     .collect();
/// for connection in &mut room {
///     connection.sender().send_prepared(&news)?;
/// }
/// assert_eq!(news.encodings(), 1); // framed once for all three
/// let mut out = Vec::new();
/// room[2].poll_transmit(&mut out);
/// assert_eq!(&out[..2], [0x81, 15]);
/// assert_eq!(&out[2..], br#"{"price":101.5}"#);
/// # Ok::<(), wsmachine::CommandError>(())
/// ```
pub struct PreparedMessage {
    kind: MessageKind,
    payload: Bytes,
    frames: Cache,
}

impl PreparedMessage {
    /// A text message to prepare; text is UTF-8 by construction, so it is not checked again.
    pub fn text(text: impl Into<Text>) -> PreparedMessage {
        PreparedMessage::new(MessageKind::Text, text.into().into_bytes())
    }

    /// A binary message to prepare.
    pub fn binary(data: impl Into<Bytes>) -> PreparedMessage {
        PreparedMessage::new(MessageKind::Binary, data.into())
    }

    fn new(kind: MessageKind, payload: Bytes) -> PreparedMessage {
        PreparedMessage { kind, payload, frames: Cache::default() }
    }

    /// Whether the message is text or binary.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The message as given, before framing or compression.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// How many encodings have been made so far: one per distinct fragment size and
    /// compressor among the server connections it was sent on.
    #[must_use]
    pub fn encodings(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn opcode(&self) -> Opcode {
        match self.kind {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        }
    }

    /// The server frames for `encoding`: made now if no connection needed them before, and
    /// kept for the next.
    pub(crate) fn frames(&self, encoding: Encoding) -> Bytes {
        self.frames.get_or_make(encoding, || Bytes::from(self.encode(encoding)))
    }

    /// Frames the message as a server connection with `encoding` would (unmasked, §5.1).
    fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let mut frames = Vec::new();
        #[cfg(feature = "deflate")]
        if let Some((window_bits, settings)) = encoding.compressor {
            let mut compressed = Vec::new();
            super::compression::compress_with_shared(
                window_bits,
                settings,
                &self.payload,
                &mut compressed,
            );
            push_message_frames(
                &mut frames,
                self.opcode(),
                &compressed,
                Rsv::RSV1,
                encoding.fragment_size,
                &mut || None,
            );
            return frames;
        }
        push_message_frames(
            &mut frames,
            self.opcode(),
            &self.payload,
            Rsv::NONE,
            encoding.fragment_size,
            &mut || None,
        );
        frames
    }
}

impl core::fmt::Debug for PreparedMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreparedMessage")
            .field("kind", &self.kind)
            .field("len", &self.payload.len())
            .field("encodings", &self.encodings())
            .finish()
    }
}

/// The encodings made so far. The first, usually the only one (a server's connections tend to
/// negotiate alike), is read without a lock; the others are behind one with `std`, so that
/// threads share a message, and in a cell without it.
#[derive(Default)]
struct Cache {
    #[cfg(feature = "std")]
    first: std::sync::OnceLock<(Encoding, Bytes)>,
    #[cfg(feature = "std")]
    others: std::sync::Mutex<Vec<(Encoding, Bytes)>>,
    #[cfg(not(feature = "std"))]
    first: core::cell::OnceCell<(Encoding, Bytes)>,
    #[cfg(not(feature = "std"))]
    others: core::cell::RefCell<Vec<(Encoding, Bytes)>>,
}

impl Cache {
    /// The frames made for `encoding`, made by `make` if there are none yet.
    fn get_or_make(&self, encoding: Encoding, make: impl Fn() -> Bytes) -> Bytes {
        let (first_encoding, first_frames) = self.first.get_or_init(|| (encoding, make()));
        if *first_encoding == encoding {
            return first_frames.clone();
        }
        self.with_others(|others| {
            if let Some((_, frames)) = others.iter().find(|(made_for, _)| *made_for == encoding) {
                return frames.clone();
            }
            let frames = make();
            others.push((encoding, frames.clone()));
            frames
        })
    }

    fn len(&self) -> usize {
        usize::from(self.first.get().is_some()) + self.with_others(|others| others.len())
    }

    fn with_others<O>(&self, f: impl FnOnce(&mut Vec<(Encoding, Bytes)>) -> O) -> O {
        #[cfg(feature = "std")]
        // A panic while encoding leaves the list as it was: nothing half-made is pushed.
        let mut others = self.others.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(not(feature = "std"))]
        let mut others = self.others.borrow_mut();
        f(&mut others)
    }
}
