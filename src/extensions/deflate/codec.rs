//! Compressing and decompressing one message at a time (RFC 7692 §7.2).
//!
//! A message is compressed with a sync flush and the trailing `00 00 ff ff` of the flush is
//! removed (§7.2.1); on receipt it is put back before inflating (§7.2.2). With context
//! takeover the LZ77 window carries over from one message to the next; without it, each
//! message starts afresh.

use alloc::vec::Vec;

use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

/// The four bytes a sync flush ends with, removed on the wire (§7.2.1).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The window bits zlib can compress with: it does not support 8 for raw deflate and uses 9.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// How hard a compressor works and how much memory it holds, apart from its window.
///
/// `level` is zlib's compression level, 0 (stored) to 9. Level 1 uses fixed codes and is an
/// order of magnitude faster on short messages than the levels that build codes for every
/// message; it needs context kept between messages to compress well. `memory_level` (1–9)
/// sizes the compressor's buffers: 8 is zlib's default, 1 the smallest.
///
/// ```
/// use wsmachine::extensions::deflate::{CompressorSettings, MessageCompressor};
///
/// let small = CompressorSettings { level: 1, memory_level: 1 };
/// let mut compressor = MessageCompressor::with_settings(9, false, small);
/// let mut out = Vec::new();
/// compressor.compress(b"Hello, Hello, Hello", &mut out);
/// assert!(out.len() < 19);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompressorSettings {
    /// zlib's compression level, 0–9.
    pub level: u8,
    /// zlib's memory level, 1–9.
    pub memory_level: u8,
}

impl CompressorSettings {
    /// zlib's defaults: level 6, memory level 8.
    pub const ZLIB_DEFAULT: CompressorSettings = CompressorSettings { level: 6, memory_level: 8 };

    /// The settings clamped to what zlib accepts.
    fn clamped(self) -> CompressorSettings {
        CompressorSettings { level: self.level.min(9), memory_level: self.memory_level.clamp(1, 9) }
    }
}

impl Default for CompressorSettings {
    fn default() -> CompressorSettings {
        CompressorSettings::ZLIB_DEFAULT
    }
}

/// Compresses outgoing messages for one direction of a connection.
///
/// ```
/// use wsmachine::extensions::deflate::MessageCompressor;
///
/// // RFC 7692 §7.2.3.1: "Hello" compressed, the sync tail removed.
/// let mut compressor = MessageCompressor::new(15, false);
/// let mut out = Vec::new();
/// compressor.compress(b"Hello", &mut out);
/// assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
/// ```
pub struct MessageCompressor {
    backend: Backend,
    no_context_takeover: bool,
}

/// Who compresses: our own fast-level compressor, whose memory follows the window and the
/// memory level (`quick.rs`), or zlib-rs for the levels that build codes.
/// Boxed, so that a connection whose compressor has not been made yet holds only a pointer's
/// worth.
enum Backend {
    Quick(alloc::boxed::Box<super::quick::QuickDeflate>),
    Zlib(Deflate),
}

impl core::fmt::Debug for MessageCompressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageCompressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl MessageCompressor {
    /// A compressor with a window of at most 2^`window_bits` bytes (8–15) that resets after
    /// every message when `no_context_takeover`, with zlib's default level and memory.
    #[must_use]
    pub fn new(window_bits: u8, no_context_takeover: bool) -> MessageCompressor {
        MessageCompressor::with_settings(
            window_bits,
            no_context_takeover,
            CompressorSettings::ZLIB_DEFAULT,
        )
    }

    /// A compressor as [`new`](Self::new) makes, with the given level and memory level.
    #[must_use]
    pub fn with_settings(
        window_bits: u8,
        no_context_takeover: bool,
        settings: CompressorSettings,
    ) -> MessageCompressor {
        let settings = settings.clamped();
        if settings.level == 1 {
            let quick = super::quick::QuickDeflate::new(
                window_bits,
                settings.memory_level,
                no_context_takeover,
            );
            return MessageCompressor {
                backend: Backend::Quick(alloc::boxed::Box::new(quick)),
                no_context_takeover,
            };
        }
        let compress = Deflate::new_with_config(zlib_rs::DeflateConfig {
            level: i32::from(settings.level),
            method: zlib_rs::Method::Deflated,
            // Negative: raw DEFLATE, no zlib header (§7.2.1).
            window_bits: -i32::from(zlib_window_bits(window_bits)),
            mem_level: i32::from(settings.memory_level),
            strategy: zlib_rs::Strategy::Default,
        });
        MessageCompressor { backend: Backend::Zlib(compress), no_context_takeover }
    }

    /// Appends `payload` compressed as one whole message to `out`.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        self.compress_piece(payload, true, out);
    }

    /// Appends one piece of a message sent in pieces to `out`, compressed and flushed so that
    /// the peer can inflate it on arrival; `last` ends the message (§7.2.1: only the message's
    /// end drops the sync tail).
    pub fn compress_piece(&mut self, piece: &[u8], last: bool, out: &mut Vec<u8>) {
        match &mut self.backend {
            Backend::Quick(quick) => quick.compress_piece(piece, last, out),
            Backend::Zlib(compress) => {
                zlib_compress_piece(compress, piece, last, out);
                if last && self.no_context_takeover {
                    compress.reset();
                }
            }
        }
    }
}

/// Compresses one piece with zlib-rs and a sync flush, the tail removed at the message's end.
fn zlib_compress_piece(compress: &mut Deflate, piece: &[u8], last: bool, out: &mut Vec<u8>) {
    let start = out.len();
    let mut consumed = 0;
    loop {
        // Room for the rest, stored if need be, and the flush; zeroed, as the safe API writes
        // into initialised bytes.
        let filled = out.len();
        let left = piece.len() - consumed;
        let room = left + left / 1024 * 5 + 64;
        out.resize(filled + room, 0);
        let (before_in, before_out) = (compress.total_in(), compress.total_out());
        // Compressing into a buffer with room cannot fail: zlib only reports buffer errors,
        // which the loop answers with more room.
        let _ = compress.compress(&piece[consumed..], &mut out[filled..], DeflateFlush::SyncFlush);
        consumed += usize::try_from(compress.total_in() - before_in).unwrap_or(0);
        let produced = usize::try_from(compress.total_out() - before_out).unwrap_or(0);
        out.truncate(filled + produced);
        if consumed >= piece.len() && produced < room {
            break;
        }
    }
    if !last {
        return;
    }
    if out[start..].ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    if out.len() == start {
        // zlib emits nothing for a flush with nothing pending; the message then ends with an
        // empty stored block, whose header byte is what remains once the tail is removed
        // (§7.2.3.6).
        out.push(0x00);
    }
}

/// Decompresses incoming messages for one direction of a connection, never producing more
/// than the caller has room for: the protection against decompression bombs is applied while
/// inflating, not after.
///
/// ```
/// use wsmachine::extensions::deflate::MessageDecompressor;
///
/// let mut decompressor = MessageDecompressor::new(15, false);
/// let mut out = Vec::new();
/// decompressor.decompress(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 1024)?;
/// decompressor.finish_message(&mut out, 1024)?;
/// assert_eq!(out, b"Hello");
/// # Ok::<(), wsmachine::extensions::deflate::InflateError>(())
/// ```
pub struct MessageDecompressor {
    decompress: Inflater,
    no_context_takeover: bool,
    /// The peer ended the DEFLATE stream with a final block (§7.2.3.4): whatever follows in
    /// the message is ignored, and the next message starts a new stream.
    stream_ended: bool,
}

/// Who inflates: our own inflater, whose history is the peer's window, for windows up to
/// [`SMALL_WINDOW_BITS`]; zlib-rs, which always holds 32 KiB, for larger ones.
enum Inflater {
    Small(alloc::boxed::Box<super::small_inflate::SmallInflate>),
    Zlib(Inflate),
}

/// The largest window our own inflater serves: up to 4 KiB it saves at least 28 KiB a
/// connection; above, zlib-rs's faster decoding is worth its fixed 32 KiB.
const SMALL_WINDOW_BITS: u8 = 12;

impl core::fmt::Debug for MessageDecompressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageDecompressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .field("stream_ended", &self.stream_ended)
            .finish_non_exhaustive()
    }
}

impl MessageDecompressor {
    /// A decompressor for a peer that compresses with a window of at most 2^`window_bits`
    /// bytes and resets after every message when `no_context_takeover`.
    #[must_use]
    pub fn new(window_bits: u8, no_context_takeover: bool) -> MessageDecompressor {
        let decompress = if window_bits <= SMALL_WINDOW_BITS {
            Inflater::Small(alloc::boxed::Box::new(super::small_inflate::SmallInflate::new(
                window_bits,
            )))
        } else {
            Inflater::Zlib(Inflate::new(false, zlib_window_bits(window_bits)))
        };
        MessageDecompressor { decompress, no_context_takeover, stream_ended: false }
    }

    /// Inflates from `input` into `out`, stopping when the input is used up or `out` is full,
    /// and returns how many bytes of each were used. Output still held inside comes out on the
    /// next call, which may have no input: `out` being filled means there may be more.
    pub fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Inflated, InflateError> {
        if self.stream_ended {
            return Ok(Inflated { consumed: input.len(), produced: 0 });
        }
        let decompress = match &mut self.decompress {
            Inflater::Small(small) => {
                let inflated = small.inflate(input, out)?;
                self.stream_ended = small.stream_ended();
                return Ok(inflated);
            }
            Inflater::Zlib(decompress) => decompress,
        };
        let (before_in, before_out) = (decompress.total_in(), decompress.total_out());
        let status = decompress
            .decompress(input, out, InflateFlush::SyncFlush)
            .map_err(|_| InflateError::Corrupt)?;
        let mut consumed = usize::try_from(decompress.total_in() - before_in).unwrap_or(0);
        let produced = usize::try_from(decompress.total_out() - before_out).unwrap_or(0);
        if status == Status::StreamEnd {
            self.stream_ended = true;
            consumed = input.len();
        }
        Ok(Inflated { consumed, produced })
    }

    /// Inflates the next piece of a compressed message into `out`, failing as soon as `out`
    /// would exceed `limit` bytes, and without ever growing `out` past `limit + 1`.
    pub fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let mut consumed = 0;
        loop {
            if out.len() > limit {
                return Err(InflateError::TooBig { limit });
            }
            // Grow geometrically, but never past one byte beyond the limit: the limit is seen
            // without the buffer ever being larger than it allows.
            let start = out.len();
            let room = (limit + 1 - start).min(start.max(INFLATE_CHUNK));
            out.reserve_exact(room);
            out.resize(start + room, 0);
            let step = self.inflate(&input[consumed..], &mut out[start..]);
            let Inflated { consumed: used, produced } =
                step.inspect_err(|_| out.truncate(start))?;
            out.truncate(start + produced);
            consumed += used;
            if out.len() > limit {
                return Err(InflateError::TooBig { limit });
            }
            let filled = produced == room;
            if !filled && (consumed >= input.len() || used == 0) {
                return Ok(());
            }
        }
    }

    /// Ends a message: inflates the sync tail the sender removed, then resets the window when
    /// there is no context takeover.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        self.decompress(&SYNC_TAIL, out, limit)?;
        self.end_message();
        Ok(())
    }

    /// The bytes that end every compressed message, to inflate after its last frame (§7.2.2).
    #[must_use]
    pub fn message_tail() -> &'static [u8] {
        &SYNC_TAIL
    }

    /// Marks the end of a message whose tail ([`message_tail`](Self::message_tail)) has been
    /// inflated: resets the window when there is no context takeover or the peer ended its
    /// stream.
    pub fn end_message(&mut self) {
        if self.no_context_takeover || self.stream_ended {
            match &mut self.decompress {
                Inflater::Small(small) => small.reset(),
                Inflater::Zlib(decompress) => {
                    decompress.reset(false);
                }
            }
            self.stream_ended = false;
        }
    }
}

/// How much [`MessageDecompressor::inflate`] used and produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflated {
    /// Input bytes used.
    pub consumed: usize,
    /// Output bytes written.
    pub produced: usize,
}

/// The step by which output buffers grow while inflating.
const INFLATE_CHUNK: usize = 16 * 1024;

/// Why an incoming compressed message cannot be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InflateError {
    /// The inflated message would exceed the limit: close with 1009.
    #[error("inflated message exceeds {limit} bytes")]
    TooBig {
        /// The limit.
        limit: usize,
    },
    /// The data is not valid DEFLATE: close with 1007.
    #[error("invalid compressed data")]
    Corrupt,
}

impl InflateError {
    /// The code to close the connection with.
    #[must_use]
    pub fn close_code(&self) -> crate::frame::CloseCode {
        match self {
            InflateError::TooBig { .. } => crate::frame::CloseCode::MESSAGE_TOO_BIG,
            InflateError::Corrupt => crate::frame::CloseCode::INVALID_PAYLOAD,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(
        decompressor: &mut MessageDecompressor,
        data: &[u8],
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        decompressor.decompress(data, &mut out, 1 << 20)?;
        decompressor.finish_message(&mut out, 1 << 20)?;
        Ok(out)
    }

    #[test]
    fn rfc_7692_examples_decompress() {
        let mut decompressor = MessageDecompressor::new(15, false);
        // §7.2.3.1 and §7.2.3.2: the second "Hello" refers to the first through the window.
        assert_eq!(
            inflate(&mut decompressor, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
            b"Hello"
        );
        assert_eq!(inflate(&mut decompressor, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(), b"Hello");
        // §7.2.3.3: a block with no compression.
        let mut fresh = MessageDecompressor::new(15, false);
        let stored = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
        assert_eq!(inflate(&mut fresh, &stored).unwrap(), b"Hello");
        // §7.2.3.4: a final block (BFINAL set).
        let mut fresh = MessageDecompressor::new(15, false);
        assert_eq!(
            inflate(&mut fresh, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn rfc_7692_examples_compress_with_and_without_context_takeover() {
        let mut compressor = MessageCompressor::new(15, false);
        let mut first = Vec::new();
        compressor.compress(b"Hello", &mut first);
        let mut second = Vec::new();
        compressor.compress(b"Hello", &mut second);
        assert_eq!(first, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);

        let mut forgetful = MessageCompressor::new(15, true);
        let mut again = Vec::new();
        forgetful.compress(b"Hello", &mut again);
        again.clear();
        forgetful.compress(b"Hello", &mut again);
        assert_eq!(again, first, "without context takeover each message starts afresh");

        // §7.2.3.6: an empty message is one byte, also right after another message.
        let mut compressor = MessageCompressor::new(15, false);
        for _ in 0..3 {
            let mut empty = Vec::new();
            compressor.compress(b"", &mut empty);
            assert_eq!(empty, [0x00]);
        }
    }

    #[test]
    fn bombs_stop_at_the_limit_and_garbage_is_corrupt() {
        let mut compressor = MessageCompressor::new(15, false);
        let mut bomb = Vec::new();
        compressor.compress(&vec![0u8; 10 << 20], &mut bomb);
        assert!(bomb.len() < 20 << 10, "{} bytes", bomb.len());
        let mut decompressor = MessageDecompressor::new(15, false);
        let mut out = Vec::new();
        let result = decompressor.decompress(&bomb, &mut out, 1 << 20);
        assert_eq!(result, Err(InflateError::TooBig { limit: 1 << 20 }));
        assert!(out.capacity() <= (1 << 20) + 1, "grew to {}", out.capacity());

        let mut decompressor = MessageDecompressor::new(15, false);
        assert_eq!(inflate(&mut decompressor, &[0xff, 0xff, 0xff]), Err(InflateError::Corrupt));
    }
}
