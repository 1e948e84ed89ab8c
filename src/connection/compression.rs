//! permessage-deflate inside a connection (RFC 7692 §6–§7): the parameters each direction
//! uses, and codecs created on first use and dropped when no context needs keeping.

use alloc::vec::Vec;
use core::cell::RefCell;

use crate::extensions::deflate::{
    CompressorSettings, DeflateConfig, DeflateParams, MessageCompressor, MessageDecompressor,
};
use crate::Role;

/// How one direction compresses: its window and whether it resets after every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Direction {
    window_bits: u8,
    no_context_takeover: bool,
}

/// The directions an endpoint of `role` sends and receives with: a server compresses with the
/// `server_*` parameters and inflates with the `client_*` ones (§7.1), a client the reverse.
pub(crate) fn directions(params: &DeflateParams, role: Role) -> (Direction, Direction) {
    let server = Direction {
        window_bits: params.server_max_window_bits,
        no_context_takeover: params.server_no_context_takeover,
    };
    let client = Direction {
        window_bits: params.client_max_window_bits,
        no_context_takeover: params.client_no_context_takeover,
    };
    match role {
        Role::Server => (server, client),
        Role::Client => (client, server),
    }
}

std::thread_local! {
    /// The compressors of this thread for directions that keep no context between messages,
    /// by window bits (8 to 15) and settings. Such a compressor starts every
    /// message afresh, so one serves every connection on the thread, a whole message at a
    /// time, and none of them holds one of its own (134 to 371 KiB each by window and memory
    /// level).
    static SHARED_COMPRESSORS: RefCell<Vec<(u8, CompressorSettings, MessageCompressor)>> =
        const { RefCell::new(Vec::new()) };
}

/// Compresses `message`, a whole one, into `out` with this thread's compressor for
/// `window_bits` and `settings`, made on first use: as a compressor of the connection's own
/// that resets after every message would (the tests hold it to that).
pub(crate) fn compress_with_shared(
    window_bits: u8,
    settings: CompressorSettings,
    message: &[u8],
    out: &mut Vec<u8>,
) {
    // Window bits as negotiated: zlib-rs runs 8 as 9, but the fast level's own compressor
    // keeps to 8 exactly.
    let bits = window_bits.clamp(8, 15);
    SHARED_COMPRESSORS.with_borrow_mut(|compressors| {
        let index = compressors
            .iter()
            .position(|(b, s, _)| (*b, *s) == (bits, settings))
            .unwrap_or_else(|| {
                let compressor = MessageCompressor::with_settings(bits, true, settings);
                compressors.push((bits, settings, compressor));
                compressors.len() - 1
            });
        compressors[index].2.compress(message, out);
    });
}

/// The sending side: compresses outgoing messages.
#[derive(Debug)]
pub(crate) struct Deflate {
    direction: Direction,
    /// Level and memory level of this side's compressor.
    settings: CompressorSettings,
    /// Created by the first compressed message that needs one of its own (all of them when
    /// context is kept; only streamed ones otherwise, whose pieces share one context): a
    /// connection that never sends one holds none.
    compressor: Option<MessageCompressor>,
    /// A streamed message is being compressed piece by piece.
    streaming: bool,
    /// Messages shorter than this go uncompressed unless the caller asks otherwise.
    pub(crate) threshold: usize,
    /// The compressed bytes of the message being framed, reused from message to message.
    scratch: Vec<u8>,
}

impl Deflate {
    /// The sending side of `direction`, compressing as `config` asks (its level follows from
    /// whether the direction keeps context).
    pub(crate) fn new(direction: Direction, config: &DeflateConfig) -> Deflate {
        Deflate::with_settings(
            direction,
            config.compressor_settings(direction.no_context_takeover),
            config.compression_threshold,
        )
    }

    fn with_settings(
        direction: Direction,
        settings: CompressorSettings,
        threshold: usize,
    ) -> Deflate {
        Deflate {
            direction,
            settings,
            compressor: None,
            streaming: false,
            threshold,
            scratch: Vec::new(),
        }
    }

    /// Compresses one piece of a message (the whole message when `last` and nothing came
    /// before) into the reused scratch buffer, which the caller hands back with
    /// [`restore`](Deflate::restore) once the bytes are framed.
    pub(crate) fn compress_piece(&mut self, piece: &[u8], last: bool) -> Vec<u8> {
        let Direction { window_bits, no_context_takeover } = self.direction;
        let mut out = core::mem::take(&mut self.scratch);
        out.clear();
        let whole_message = last && !self.streaming;
        self.streaming = !last;
        if no_context_takeover && whole_message {
            compress_with_shared(window_bits, self.settings, piece, &mut out);
            return out;
        }
        let settings = self.settings;
        let compressor = self.compressor.get_or_insert_with(|| {
            MessageCompressor::with_settings(window_bits, no_context_takeover, settings)
        });
        compressor.compress_piece(piece, last, &mut out);
        out
    }

    /// The window bits and settings of the thread's compressor this side compresses a whole
    /// message with, when it keeps no context (its output then depends on the message alone,
    /// so a [`PreparedMessage`](crate::PreparedMessage) can share it); `None` when it does.
    pub(crate) fn shared_compressor(&self) -> Option<(u8, CompressorSettings)> {
        let Direction { window_bits, no_context_takeover } = self.direction;
        (no_context_takeover && !self.streaming).then_some((window_bits, self.settings))
    }

    /// Takes back the scratch buffer lent by [`compress_piece`](Deflate::compress_piece).
    pub(crate) fn restore(&mut self, scratch: Vec<u8>) {
        self.scratch = scratch;
    }

    /// Frees what an idle connection need not hold: the scratch buffer, and the compressor
    /// itself when it keeps no context between messages.
    pub(crate) fn release(&mut self) {
        self.scratch = Vec::new();
        if self.direction.no_context_takeover {
            self.compressor = None;
        }
    }
}

std::thread_local! {
    /// This thread's spare inflater for directions that keep no context: such an inflater
    /// starts every message afresh, so a connection borrows it for one message and hands it
    /// back at the message's end, and idle connections hold none. A message still being
    /// inflated when the caller is given something (a piece, or a frame that has not all
    /// arrived) keeps it, and the next borrower makes another.
    static SPARE_INFLATER: RefCell<Option<MessageDecompressor>> = const { RefCell::new(None) };
}

/// The window a spare inflater is made with: it inflates data compressed with any window up
/// to it, and zlib-rs allocates a 32 KiB window whatever it is told.
const SPARE_INFLATER_WINDOW_BITS: u8 = 15;

/// The receiving side: inflates incoming messages.
#[derive(Debug)]
pub(crate) struct Inflate {
    direction: Direction,
    /// Created by the first compressed message; without context takeover, borrowed from the
    /// thread for one message at a time.
    decompressor: Option<MessageDecompressor>,
}

impl Inflate {
    pub(crate) fn new(direction: Direction) -> Inflate {
        Inflate { direction, decompressor: None }
    }

    pub(crate) fn decompressor(&mut self) -> &mut MessageDecompressor {
        let Direction { window_bits, no_context_takeover } = self.direction;
        if no_context_takeover && self.decompressor.is_none() {
            self.decompressor = SPARE_INFLATER.with_borrow_mut(Option::take);
        }
        self.decompressor.get_or_insert_with(|| {
            if no_context_takeover {
                MessageDecompressor::new(SPARE_INFLATER_WINDOW_BITS, true)
            } else {
                MessageDecompressor::new(window_bits, false)
            }
        })
    }

    /// Ends a message whose tail was inflated: resets the inflater where needed, and without
    /// context takeover hands it back to the thread (or drops it if the thread has one).
    pub(crate) fn finish_message(&mut self) {
        if let Some(decompressor) = &mut self.decompressor {
            decompressor.end_message();
        }
        if self.direction.no_context_takeover {
            if let Some(decompressor) = self.decompressor.take() {
                SPARE_INFLATER.with_borrow_mut(|spare| {
                    spare.get_or_insert(decompressor);
                });
            }
        }
    }

    /// Frees the decompressor when it keeps no context between messages; only call it between
    /// messages.
    pub(crate) fn release(&mut self) {
        if self.direction.no_context_takeover {
            self.decompressor = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_context(window_bits: u8) -> Direction {
        Direction { window_bits, no_context_takeover: true }
    }

    /// What a compressor of the connection's own, reset after every message, writes.
    fn dedicated(
        window_bits: u8,
        settings: CompressorSettings,
        messages: &[&[u8]],
    ) -> Vec<Vec<u8>> {
        let mut compressor = MessageCompressor::with_settings(window_bits, true, settings);
        let mut outputs = alloc::vec![Vec::new(); messages.len()];
        for (message, out) in messages.iter().zip(&mut outputs) {
            compressor.compress(message, out);
        }
        outputs
    }

    #[test]
    fn connections_without_context_share_the_threads_compressor_and_write_the_same_bytes() {
        let messages: [&[u8]; 4] =
            [b"{\"user\":\"ada\",\"text\":\"hello\"}", b"", b"hello hello hello hello", &[7; 3000]];
        let fast_and_small = CompressorSettings { level: 1, memory_level: 1 };
        for (bits, settings) in [8, 9, 12, 15]
            .into_iter()
            .flat_map(|bits| [(bits, CompressorSettings::ZLIB_DEFAULT), (bits, fast_and_small)])
        {
            let expected = dedicated(bits, settings, &messages);
            // Two connections taking turns, and a third with other settings between them:
            // no message leaves anything for another's, and settings are never mixed.
            let other = CompressorSettings { level: 9, memory_level: 9 };
            let mut third = Deflate::with_settings(no_context(bits), other, 0);
            let (mut a, mut b) = (
                Deflate::with_settings(no_context(bits), settings, 0),
                Deflate::with_settings(no_context(bits), settings, 0),
            );
            for (message, expected) in messages.iter().zip(&expected) {
                for deflate in [&mut a, &mut b] {
                    let scratch = third.compress_piece(b"other settings, other context", true);
                    third.restore(scratch);
                    let out = deflate.compress_piece(message, true);
                    assert_eq!(&out, expected, "{bits} bits, {settings:?}");
                    deflate.restore(out);
                    assert!(deflate.compressor.is_none(), "no compressor of its own");
                }
            }
        }
    }

    #[test]
    fn a_streamed_message_keeps_its_context_across_pieces_in_a_compressor_of_its_own() {
        let mut deflate =
            Deflate::with_settings(no_context(15), CompressorSettings::ZLIB_DEFAULT, 0);
        let mut streamed = deflate.compress_piece(b"hello hello ", false);
        streamed.extend(deflate.compress_piece(b"hello hello", true));
        assert!(deflate.compressor.is_some(), "the pieces share one context");
        let mut inflater = crate::extensions::deflate::MessageDecompressor::new(15, true);
        let mut text = Vec::new();
        inflater.decompress(&streamed, &mut text, 1 << 10).unwrap();
        inflater.finish_message(&mut text, 1 << 10).unwrap();
        assert_eq!(text, b"hello hello hello hello");
        // The next whole message goes to the thread's compressor again.
        let out = deflate.compress_piece(b"hi", true);
        assert_eq!(out, dedicated(15, CompressorSettings::ZLIB_DEFAULT, &[b"hi"])[0]);
        deflate.release();
        assert!(deflate.compressor.is_none());
    }

    /// Inflates `compressed` (one whole message) into a fresh buffer through `inflate`.
    fn inflate_whole(inflate: &mut Inflate, compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        inflate.decompressor().decompress(compressed, &mut out, 1 << 20).unwrap();
        inflate
            .decompressor()
            .decompress(MessageDecompressor::message_tail(), &mut out, 1 << 20)
            .unwrap();
        inflate.finish_message();
        out
    }

    #[test]
    fn connections_without_context_borrow_the_threads_inflater_one_message_at_a_time() {
        // Distinct payloads per connection, some repeating themselves so that a window kept
        // by mistake would change what the next message decodes to.
        let messages: Vec<Vec<u8>> = (0u8..12)
            .map(|n| {
                (0..(200 + 97 * usize::from(n)))
                    .map(|i| (i % (7 + usize::from(n))) as u8 ^ n)
                    .collect()
            })
            .collect();
        let compressed: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| dedicated(12, CompressorSettings::ZLIB_DEFAULT, &[m])[0].clone())
            .collect();
        let (mut a, mut b) = (Inflate::new(no_context(12)), Inflate::new(no_context(12)));
        for (n, (message, wire)) in messages.iter().zip(&compressed).enumerate() {
            let inflate = if n % 2 == 0 { &mut a } else { &mut b };
            assert_eq!(&inflate_whole(inflate, wire), message, "message {n}");
            assert!(inflate.decompressor.is_none(), "handed back at the message's end");
        }

        // A message left half inflated keeps the inflater it borrowed; another connection
        // meanwhile gets one of its own; both messages come out whole.
        let half = compressed[3].len() / 2;
        let mut first = Vec::new();
        a.decompressor().decompress(&compressed[3][..half], &mut first, 1 << 20).unwrap();
        assert_eq!(inflate_whole(&mut b, &compressed[4]), messages[4]);
        a.decompressor().decompress(&compressed[3][half..], &mut first, 1 << 20).unwrap();
        a.decompressor()
            .decompress(MessageDecompressor::message_tail(), &mut first, 1 << 20)
            .unwrap();
        a.finish_message();
        assert_eq!(first, messages[3]);
    }

    #[test]
    fn a_connection_that_keeps_context_keeps_its_inflater() {
        let mut compressor = MessageCompressor::new(15, false);
        let (mut one, mut two) = (Vec::new(), Vec::new());
        compressor.compress(b"hello hello hello", &mut one);
        compressor.compress(b"hello hello hello", &mut two);
        let mut inflate = Inflate::new(Direction { window_bits: 15, no_context_takeover: false });
        assert_eq!(inflate_whole(&mut inflate, &one), b"hello hello hello");
        assert!(inflate.decompressor.is_some(), "its window is the next message's context");
        assert_eq!(inflate_whole(&mut inflate, &two), b"hello hello hello");
    }
}
