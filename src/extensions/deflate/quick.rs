//! A DEFLATE compressor of our own for the fast level (RFC 1951): greedy LZ77 matches found
//! with one probe of a hash table, written with the fixed Huffman codes (§3.2.6), each piece
//! ended with a sync flush (RFC 7692 §7.2.1). This is what zlib-ng and zlib-rs do at level 1
//! ("quick"), but with memory that follows the window and the memory level: a history of
//! twice the window and a table of 2^(memLevel+7) entries, where zlib-rs always holds a
//! 128 KiB table. The `smallest` preset's compressor (2 KiB windows, memory level 3) then
//! holds 6 KiB where zlib-rs's would hold about 140 KiB.
//!
//! Its output is checked against zlib-rs's inflater in the tests (every window, memory level,
//! piece size and context mode, random and repetitive data).

use alloc::vec::Vec;

use super::tables::{DISTANCE_BASE, DISTANCE_EXTRA, LENGTH_BASE, LENGTH_EXTRA};

/// The longest match DEFLATE can express (§3.2.5).
const MAX_MATCH: usize = 258;
/// The shortest match looked for: the hash covers four bytes.
const MIN_MATCH: usize = 4;
/// A stored block holds at most this many bytes (§3.2.4).
const MAX_STORED: usize = 65_535;

/// Extra history room for windows too small to hold a whole match of lookahead beside them.
const SMALL_WINDOW_SLACK: usize = 512;

/// The compressor's state between pieces and messages.
#[derive(Debug)]
pub(crate) struct QuickDeflate {
    /// The longest distance a match may reach back: the negotiated window (§7.1.2.1).
    window: usize,
    /// `buffer` never grows past this: the history kept plus the input being matched.
    capacity: usize,
    /// The last `window` bytes sent (with context kept) and the piece being compressed.
    buffer: Vec<u8>,
    /// Where in `buffer` each 4-byte hash was last seen; stale entries are harmless, as a
    /// match is taken only after its bytes are compared.
    head: Vec<u16>,
    hash_shift: u32,
    no_context_takeover: bool,
}

impl QuickDeflate {
    /// A compressor reaching back at most 2^`window_bits` bytes (8–15) with a table of
    /// 2^(`memory_level`+7) entries (`memory_level` 1–9), that forgets everything after each
    /// message when `no_context_takeover`.
    pub(crate) fn new(
        window_bits: u8,
        memory_level: u8,
        no_context_takeover: bool,
    ) -> QuickDeflate {
        let window = 1usize << window_bits.clamp(8, 15);
        let slack = if window < 1024 { SMALL_WINDOW_SLACK } else { 0 };
        let hash_bits = u32::from(memory_level.clamp(1, 9)) + 7;
        QuickDeflate {
            window,
            // Positions are stored as u16: at most 2 * 32 KiB.
            capacity: 2 * window + slack,
            buffer: Vec::new(),
            head: Vec::new(),
            hash_shift: 32 - hash_bits,
            no_context_takeover,
        }
    }

    /// Appends `piece` compressed to `out`, ended by a sync flush whose `00 00 ff ff` tail
    /// is left off when `last` ends the message (§7.2.1); the next message continues the
    /// context unless there is none to keep.
    pub(crate) fn compress_piece(&mut self, piece: &[u8], last: bool, out: &mut Vec<u8>) {
        if piece.is_empty() {
            // Only the sync flush: an empty stored block (BFINAL 0, BTYPE 00), its header
            // padded to the byte (§3.2.4).
            out.push(0x00);
        } else {
            let start = out.len();
            let mut bits = BitWriter::new(out);
            // BFINAL 0, BTYPE 01: fixed Huffman codes (§3.2.3).
            bits.write(0b010, 3);
            self.compress_into(piece, &mut bits);
            bits.write(FIXED_LITERALS[256].0, FIXED_LITERALS[256].1);
            // The sync flush's empty stored block begins in the same byte.
            bits.write(0b000, 3);
            bits.finish();
            if out.len() - start > stored_len(piece.len()) + 1 {
                // Incompressible: stored blocks say the same in fewer bytes, and the history
                // is the same either way.
                out.truncate(start);
                push_stored(piece, out);
                out.push(0x00);
            }
        }
        if !last {
            out.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        } else if self.no_context_takeover {
            self.buffer.clear();
        }
    }

    /// Matches `input` against the history and writes it as fixed-code literals and matches.
    fn compress_into(&mut self, mut input: &[u8], bits: &mut BitWriter<'_>) {
        if self.head.is_empty() {
            self.head = alloc::vec![0; 1 << (32 - self.hash_shift)];
        }
        let mut cursor = self.buffer.len();
        while !input.is_empty() {
            if self.buffer.len() == self.capacity {
                // Full: only the last window before `cursor` can still be matched against.
                // Sliding costs a copy of the window and a pass over the table, once per
                // window's worth of input at most.
                cursor -= self.slide(cursor);
            }
            let room = self.capacity - self.buffer.len();
            let (now, rest) = input.split_at(room.min(input.len()));
            self.grow_for(now.len());
            self.buffer.extend_from_slice(now);
            input = rest;
            // While input is still to come, stop where a full-length match would reach past
            // the buffer, so that matches are not cut at the buffer's end.
            let end = if input.is_empty() {
                self.buffer.len()
            } else {
                self.buffer.len().saturating_sub(MAX_MATCH)
            };
            cursor = self.encode(cursor, end, bits);
        }
    }

    /// Encodes from `cursor` until `end` (a match may run past it, to the buffer's end), and
    /// returns where it stopped.
    fn encode(&mut self, mut cursor: usize, end: usize, bits: &mut BitWriter<'_>) -> usize {
        let buffer = &self.buffer[..];
        while cursor < end {
            if cursor + MIN_MATCH <= buffer.len() {
                let hash = self.hash(cursor);
                let candidate = usize::from(self.head[hash]);
                // Positions are below 65,536 (`capacity`), so the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                {
                    self.head[hash] = cursor as u16;
                }
                let distance = cursor.wrapping_sub(candidate);
                if candidate < cursor
                    && distance <= self.window
                    && buffer[candidate..candidate + MIN_MATCH]
                        == buffer[cursor..cursor + MIN_MATCH]
                {
                    let limit = (buffer.len() - cursor).min(MAX_MATCH);
                    let length = MIN_MATCH
                        + common_prefix(
                            &buffer[candidate + MIN_MATCH..],
                            &buffer[cursor + MIN_MATCH..cursor + limit],
                        );
                    write_match(bits, length, distance);
                    cursor += length;
                    continue;
                }
            }
            let (code, len) = FIXED_LITERALS[usize::from(buffer[cursor])];
            bits.write(code, len);
            cursor += 1;
        }
        cursor
    }

    /// Drops the history before the last `window` bytes ahead of `cursor`, moving the rest to
    /// the front and the table's positions with it; returns how far it moved.
    fn slide(&mut self, cursor: usize) -> usize {
        let shift = cursor.saturating_sub(self.window);
        if shift == 0 {
            return 0;
        }
        self.buffer.copy_within(shift.., 0);
        self.buffer.truncate(self.buffer.len() - shift);
        // `shift` is below 65,536 (`capacity`), so the cast is exact; a position that falls
        // off the front becomes 0, which only points at real history, checked before use.
        #[allow(clippy::cast_possible_truncation)]
        let moved = shift as u16;
        for position in &mut self.head {
            *position = position.saturating_sub(moved);
        }
        shift
    }

    /// Reserves room for `more` bytes, growing by doubling up to `capacity`, so that a
    /// connection that sends little holds little.
    fn grow_for(&mut self, more: usize) {
        let needed = self.buffer.len() + more;
        if needed > self.buffer.capacity() {
            let target = needed.next_power_of_two().min(self.capacity).max(needed);
            self.buffer.reserve_exact(target - self.buffer.len());
        }
    }

    fn hash(&self, at: usize) -> usize {
        let bytes =
            [self.buffer[at], self.buffer[at + 1], self.buffer[at + 2], self.buffer[at + 3]];
        (u32::from_le_bytes(bytes).wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize
    }
}

/// How many leading bytes `a` and `b` share (at most `b.len()`).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    let limit = b.len().min(a.len());
    while n + 8 <= limit {
        let x = u64::from_le_bytes(a[n..n + 8].try_into().unwrap_or_default());
        let y = u64::from_le_bytes(b[n..n + 8].try_into().unwrap_or_default());
        let diff = x ^ y;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < limit && a[n] == b[n] {
        n += 1;
    }
    n
}

/// The bytes `len` bytes take as non-final stored blocks (5 bytes of header each, §3.2.4).
fn stored_len(len: usize) -> usize {
    len + len.div_ceil(MAX_STORED).max(1) * 5
}

/// Appends `data` as non-final stored blocks.
fn push_stored(data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(MAX_STORED) {
        // BFINAL 0, BTYPE 00, the rest of the byte padding; then LEN and its complement.
        // A chunk is at most 65,535 bytes, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let len = chunk.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Writes a match of `length` (4–258) bytes `distance` (1–32,768) back with the fixed codes.
fn write_match(bits: &mut BitWriter<'_>, length: usize, distance: usize) {
    let (symbol, extra_bits, base) = length_code(length);
    let (code, len) = FIXED_LITERALS[symbol];
    bits.write(code, len);
    // Extra bits are at most 5 (lengths) and 13 (distances): the values fit.
    #[allow(clippy::cast_possible_truncation)]
    if extra_bits > 0 {
        bits.write((length - base) as u32, extra_bits);
    }
    let (dist_code, extra_bits, base) = distance_code(distance);
    bits.write(u32::from(reverse_bits(u16::from(dist_code), 5)), 5);
    #[allow(clippy::cast_possible_truncation)]
    if extra_bits > 0 {
        bits.write((distance - base) as u32, extra_bits);
    }
}

/// The length symbol for `length`, its extra bits and its base.
fn length_code(length: usize) -> (usize, u32, usize) {
    let index = LENGTH_BASE.partition_point(|&base| usize::from(base) <= length) - 1;
    (257 + index, u32::from(LENGTH_EXTRA[index]), usize::from(LENGTH_BASE[index]))
}

/// The distance code for `distance`, its extra bits and its base.
fn distance_code(distance: usize) -> (u8, u32, usize) {
    let index = DISTANCE_BASE.partition_point(|&base| usize::from(base) <= distance) - 1;
    // At most 29.
    #[allow(clippy::cast_possible_truncation)]
    (index as u8, u32::from(DISTANCE_EXTRA[index]), usize::from(DISTANCE_BASE[index]))
}

const fn reverse_bits(code: u16, len: u32) -> u16 {
    code.reverse_bits() >> (16 - len)
}

/// The fixed literal/length codes (§3.2.6), bit-reversed to be written least significant bit
/// first, with their lengths.
const FIXED_LITERALS: [(u32, u32); 288] = {
    let mut table = [(0u32, 0u32); 288];
    let mut symbol = 0;
    while symbol < 288 {
        // Each arm's code fits its length, so the casts are exact.
        #[allow(clippy::cast_possible_truncation)]
        let (code, len) = match symbol {
            0..=143 => (0x30 + symbol as u16, 8),
            144..=255 => (0x190 + (symbol - 144) as u16, 9),
            256..=279 => ((symbol - 256) as u16, 7),
            _ => (0xC0 + (symbol - 280) as u16, 8),
        };
        table[symbol] = (reverse_bits(code, len) as u32, len);
        symbol += 1;
    }
    table
};

/// Bits written least significant first into a byte vector (§3.1.1).
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    bits: u64,
    count: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter { out, bits: 0, count: 0 }
    }

    /// Writes the low `len` bits of `value` (at most 32).
    #[inline]
    fn write(&mut self, value: u32, len: u32) {
        self.bits |= u64::from(value) << self.count;
        self.count += len;
        if self.count >= 32 {
            // The low 32 bits are whole bytes now.
            #[allow(clippy::cast_possible_truncation)]
            self.out.extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.count -= 32;
        }
    }

    /// Writes the bits left, the last byte padded with zeros.
    fn finish(self) {
        let bytes = self.count.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.bits.to_le_bytes()[..bytes]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zlib_rs::{Inflate, InflateFlush};

    /// zlib-rs's inflater, the oracle: inflates one message's bytes (tail put back).
    fn inflate_message(inflate: &mut Inflate, compressed: &[u8], expected_len: usize) -> Vec<u8> {
        let mut input = compressed.to_vec();
        input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        let mut out = alloc::vec![0u8; expected_len + 64];
        let before = inflate.total_out();
        let _ = inflate.decompress(&input, &mut out, InflateFlush::SyncFlush);
        let produced = (inflate.total_out() - before) as usize;
        out.truncate(produced);
        out
    }

    fn message() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..3000),
            prop::collection::vec(prop::sample::select(b"ab{}\":, ".to_vec()), 0..5000),
            (prop::collection::vec(any::<u8>(), 1..40), 1usize..400)
                .prop_map(|(unit, times)| unit.repeat(times)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Every message, in pieces of any size, inflates to itself with zlib-rs at the
        /// negotiated window, with context kept from message to message or not.
        #[test]
        fn zlib_inflates_what_it_writes(
            window_bits in 8u8..=15,
            memory_level in 1u8..=9,
            no_context_takeover: bool,
            messages in prop::collection::vec(message(), 1..6),
            piece in 1usize..5000,
        ) {
            let mut compressor = QuickDeflate::new(window_bits, memory_level, no_context_takeover);
            // zlib has no 8-bit raw window; an 8-bit stream inflates with 9.
            let mut inflate = Inflate::new(false, window_bits.max(9));
            for message in &messages {
                let mut compressed = Vec::new();
                let pieces: Vec<&[u8]> = if message.is_empty() {
                    alloc::vec![&[][..]]
                } else {
                    message.chunks(piece).collect()
                };
                for (i, chunk) in pieces.iter().enumerate() {
                    compressor.compress_piece(chunk, i + 1 == pieces.len(), &mut compressed);
                }
                prop_assert!(compressed.len() <= stored_len(message.len()) * pieces.len() + 5 * pieces.len());
                let inflated = inflate_message(&mut inflate, &compressed, message.len());
                prop_assert_eq!(&inflated, message);
                if no_context_takeover {
                    inflate.reset(false);
                }
            }
        }
    }

    #[test]
    fn long_streams_slide_the_history_and_still_inflate() {
        // Several times the largest buffer, with repeats near and far, in pieces of odd sizes.
        let mut state = 0x2545_f491u32;
        let words: [&[u8]; 6] = [b"price", b"ACME", b"{\"bid\":", b"1.25", b", ", b"volume"];
        let mut message = Vec::new();
        while message.len() < 300_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            message.extend_from_slice(words[state as usize % words.len()]);
            message.push((state >> 24) as u8);
        }
        for window_bits in [8u8, 9, 12, 15] {
            for memory_level in [1u8, 8] {
                let mut compressor = QuickDeflate::new(window_bits, memory_level, false);
                let mut inflate = Inflate::new(false, window_bits.max(9));
                for round in 0..2 {
                    let mut compressed = Vec::new();
                    let pieces: Vec<&[u8]> = message.chunks(70_001 + round * 999).collect();
                    for (i, piece) in pieces.iter().enumerate() {
                        compressor.compress_piece(piece, i + 1 == pieces.len(), &mut compressed);
                    }
                    assert!(
                        compressed.len() < message.len() * 3 / 4,
                        "{window_bits}: {}",
                        compressed.len()
                    );
                    let inflated = inflate_message(&mut inflate, &compressed, message.len());
                    assert!(inflated == message, "{window_bits} bits, memLevel {memory_level}");
                }
            }
        }
    }

    #[test]
    fn matches_reach_back_no_further_than_the_window() {
        // A repeat 300 bytes back: within a 512-byte window, beyond a 256-byte one.
        let unit: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        let message = unit.repeat(2);
        for (bits, compresses) in [(8u8, false), (9, true)] {
            let mut compressor = QuickDeflate::new(bits, 8, false);
            let mut out = Vec::new();
            compressor.compress_piece(&message, true, &mut out);
            assert_eq!(out.len() < 450, compresses, "{bits} bits: {} bytes", out.len());
        }
    }

    #[test]
    fn the_rfc_example_and_an_empty_message() {
        // RFC 7692 §7.2.3.1 (zlib level 1 writes the same with fixed codes).
        let mut compressor = QuickDeflate::new(15, 8, false);
        let mut out = Vec::new();
        compressor.compress_piece(b"Hello", true, &mut out);
        assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        // §7.2.3.2: the same message again, with context, references the first: here as one
        // 5-byte match 5 back, a byte shorter than the RFC's bytes (zlib's: a literal 'H',
        // then a 4-byte match).
        out.clear();
        compressor.compress_piece(b"Hello", true, &mut out);
        assert_eq!(out, [0x02, 0x13, 0x00, 0x00]);
        let mut inflate = Inflate::new(false, 15);
        assert_eq!(
            inflate_message(&mut inflate, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 5),
            b"Hello"
        );
        assert_eq!(inflate_message(&mut inflate, &out, 5), b"Hello");
        // §7.2.3.6: an empty message is an empty stored block's first byte.
        out.clear();
        compressor.compress_piece(b"", true, &mut out);
        assert_eq!(out, [0x00]);
    }

    #[test]
    fn memory_follows_the_window_and_the_memory_level() {
        let mut smallest = QuickDeflate::new(9, 1, false);
        let mut out = Vec::new();
        for _ in 0..100 {
            smallest.compress_piece(&[b'x'; 1000], true, &mut out);
        }
        assert!(smallest.buffer.capacity() <= 2 * 512 + SMALL_WINDOW_SLACK);
        assert_eq!(smallest.head.len(), 256);
    }
}
