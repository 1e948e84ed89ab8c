//! A DEFLATE inflater of our own (RFC 1951) whose history is the negotiated window, not the
//! 32 KiB zlib-rs always allocates: 512 bytes for a 9-bit window. It takes input in pieces of
//! any size and output room of any size, resuming where either ran out, and it never reads a
//! byte before the history it holds (a distance too far back is an error, as in zlib).
//!
//! Bits are taken into a 64-bit buffer as input arrives; each step (a block header, a code
//! length, a literal, a length with its distance) is taken only when all its bits are there,
//! so no step is ever half done. Codes are decoded canonically, one length at a time (as
//! zlib's `puff.c`), which needs no tables beyond the code lengths' counts and symbols.
//!
//! zlib-rs is the oracle in the tests (its compressor at every level and window, and its
//! verdict on random and corrupted streams).

use alloc::vec::Vec;

use super::codec::{InflateError, Inflated};
use super::tables::{DISTANCE_BASE, DISTANCE_EXTRA, LENGTH_BASE, LENGTH_EXTRA};

/// Literal/length codes a dynamic block may define (§3.2.7: HLIT at most 286).
const MAX_LITERAL_CODES: usize = 286;
/// Distance codes a dynamic block may define (HDIST at most 30).
const MAX_DISTANCE_CODES: usize = 30;
/// The longest code (§3.2.7).
const MAX_CODE_LEN: usize = 15;
/// The order code-length code lengths come in (§3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] =
    [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
#[derive(Debug, Clone)]
struct Huffman {
    counts: [u16; MAX_CODE_LEN + 1],
    symbols: Vec<u16>,
}

impl Huffman {
    const fn empty() -> Huffman {
        Huffman { counts: [0; MAX_CODE_LEN + 1], symbols: Vec::new() }
    }

    /// Builds the code from each symbol's length (0: unused). An over-subscribed set is
    /// refused, and so is an incomplete one, unless `lone_code_allowed` and it is a single code
    /// of one bit, which zlib writes for a lone distance (zlib's `inflate_table` draws the
    /// same lines).
    fn build(&mut self, lengths: &[u8], lone_code_allowed: bool) -> Result<(), InflateError> {
        self.counts = [0; MAX_CODE_LEN + 1];
        for &len in lengths {
            self.counts[usize::from(len)] += 1;
        }
        self.counts[0] = 0;
        let mut left: i32 = 1;
        for len in 1..=MAX_CODE_LEN {
            left = (left << 1) - i32::from(self.counts[len]);
            if left < 0 {
                return Err(InflateError::Corrupt);
            }
        }
        let used: u16 = self.counts.iter().sum();
        let lone_code = used == 1 && self.counts[1] == 1;
        if left > 0 && used != 0 && !(lone_code_allowed && lone_code) {
            return Err(InflateError::Corrupt);
        }
        let mut offsets = [0u16; MAX_CODE_LEN + 2];
        for len in 1..=MAX_CODE_LEN {
            offsets[len + 1] = offsets[len] + self.counts[len];
        }
        self.symbols.clear();
        self.symbols.resize(usize::from(used), 0);
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                let at = &mut offsets[usize::from(len)];
                // At most 288 symbols.
                #[allow(clippy::cast_possible_truncation)]
                {
                    self.symbols[usize::from(*at)] = symbol as u16;
                }
                *at += 1;
            }
        }
        Ok(())
    }

    /// The symbol whose code starts `bits` (least significant bit first, `available` of them)
    /// and its length; `None` if more bits are needed, an error if no code matches.
    fn decode(&self, bits: u64, available: u32) -> Result<Option<(u16, u32)>, InflateError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAX_CODE_LEN {
            // At most 15.
            #[allow(clippy::cast_possible_truncation)]
            let len_bits = len as u32;
            if len_bits > available {
                return Ok(None);
            }
            code |= i32::from(u8::from((bits >> (len_bits - 1)) & 1 == 1));
            let count = i32::from(self.counts[len]);
            if code - count < first {
                let at =
                    usize::try_from(index + (code - first)).map_err(|_| InflateError::Corrupt)?;
                let symbol = *self.symbols.get(at).ok_or(InflateError::Corrupt)?;
                return Ok(Some((symbol, len_bits)));
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err(InflateError::Corrupt)
    }
}

/// Where the inflater is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The next block's three header bits.
    BlockHeader,
    /// A stored block: its length and complement, then `remaining` bytes to copy.
    StoredLength,
    Stored {
        remaining: u16,
    },
    /// A dynamic block's header: counts, then the code-length code's lengths one by one, then
    /// the literal/length and distance code lengths one by one.
    DynamicCounts,
    CodeLengthCodes {
        literals: u16,
        distances: u8,
        count: u8,
        read: u8,
    },
    CodeLengths {
        literals: u16,
        distances: u8,
        read: u16,
    },
    /// Literals, lengths and distances with the codes in `literals` and `distances`.
    Data,
    /// A match still being copied: `remaining` bytes from `distance` back.
    Copy {
        remaining: u16,
        distance: u16,
    },
    /// A final block ended: the stream is over (§7.2.3.4).
    Done,
}

/// The inflater's state between calls.
#[derive(Debug)]
pub(crate) struct SmallInflate {
    /// The history: the last `window_len` bytes produced (a ring allocated by the first byte,
    /// `filled` of them valid, the next written at `at`).
    window: Vec<u8>,
    window_len: usize,
    at: usize,
    filled: usize,
    bits: u64,
    bit_count: u32,
    step: Step,
    /// The block just read was the final one.
    last_block: bool,
    literals: Huffman,
    distances: Huffman,
    /// `literals` and `distances` hold the fixed codes.
    fixed_codes: bool,
    /// Code lengths read so far in a dynamic header (literal/length then distance; the
    /// code-length code's first).
    lengths: Vec<u8>,
}

impl SmallInflate {
    /// An inflater for a peer compressing with windows of at most 2^`window_bits` bytes
    /// (zlib compresses 8 as 9, so 9 is the least kept).
    pub(crate) fn new(window_bits: u8) -> SmallInflate {
        SmallInflate {
            window: Vec::new(),
            window_len: 1 << window_bits.clamp(9, 15),
            at: 0,
            filled: 0,
            bits: 0,
            bit_count: 0,
            step: Step::BlockHeader,
            last_block: false,
            literals: Huffman::empty(),
            distances: Huffman::empty(),
            fixed_codes: false,
            lengths: Vec::new(),
        }
    }

    /// Whether a final block has ended the stream.
    pub(crate) fn stream_ended(&self) -> bool {
        self.step == Step::Done
    }

    /// Starts afresh: no history, the next bits a block header.
    pub(crate) fn reset(&mut self) {
        self.at = 0;
        self.filled = 0;
        self.bits = 0;
        self.bit_count = 0;
        self.step = Step::BlockHeader;
        self.last_block = false;
        self.lengths = Vec::new();
    }

    /// Inflates from `input` into `out`; stops when `out` is full (the rest comes on the next
    /// call) or the input is used up, all of it kept inside when a step needs more bits.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Inflated, InflateError> {
        let mut consumed = 0;
        let mut produced = 0;
        loop {
            // Take whole bytes while there is room for them.
            while self.bit_count <= 56 && consumed < input.len() {
                self.bits |= u64::from(input[consumed]) << self.bit_count;
                self.bit_count += 8;
                consumed += 1;
            }
            match self.advance(out, &mut produced)? {
                Progress::Went => {}
                Progress::NeedsInput if consumed == input.len() => break,
                // No step needs more than 48 bits, and 57 or more are here: unreachable, but
                // an endless loop must not be.
                Progress::NeedsInput if self.bit_count > 56 => return Err(InflateError::Corrupt),
                Progress::NeedsInput => {}
                Progress::OutputFull | Progress::Ended => break,
            }
        }
        if self.step == Step::Done {
            // Whatever follows a final block is ignored.
            consumed = input.len();
        }
        Ok(Inflated { consumed, produced })
    }

    /// One step, if its bits (and room for its output) are there.
    fn advance(&mut self, out: &mut [u8], produced: &mut usize) -> Result<Progress, InflateError> {
        match self.step {
            Step::Done => Ok(Progress::Ended),
            Step::BlockHeader => {
                let Some(header) = self.take(3) else { return Ok(Progress::NeedsInput) };
                self.last_block = header & 1 == 1;
                self.step = match header >> 1 {
                    0 => {
                        // Skip to the byte boundary (§3.2.4).
                        let skip = self.bit_count % 8;
                        self.take(skip);
                        Step::StoredLength
                    }
                    1 => {
                        self.use_fixed_codes()?;
                        Step::Data
                    }
                    2 => Step::DynamicCounts,
                    _ => return Err(InflateError::Corrupt),
                };
                Ok(Progress::Went)
            }
            Step::StoredLength => {
                let Some(both) = self.take(32) else { return Ok(Progress::NeedsInput) };
                // The low and high halves: LEN and NLEN.
                #[allow(clippy::cast_possible_truncation)]
                let (len, complement) = (both as u16, (both >> 16) as u16);
                if len != !complement {
                    return Err(InflateError::Corrupt);
                }
                self.step = Step::Stored { remaining: len };
                Ok(Progress::Went)
            }
            Step::Stored { remaining } => {
                if remaining == 0 {
                    self.end_block();
                    return Ok(Progress::Went);
                }
                if *produced == out.len() {
                    return Ok(Progress::OutputFull);
                }
                let Some(byte) = self.take(8) else { return Ok(Progress::NeedsInput) };
                // Eight bits.
                #[allow(clippy::cast_possible_truncation)]
                self.emit(byte as u8, out, produced);
                self.step = Step::Stored { remaining: remaining - 1 };
                Ok(Progress::Went)
            }
            Step::DynamicCounts => {
                let Some(counts) = self.take(14) else { return Ok(Progress::NeedsInput) };
                // Each field is 4 or 5 bits.
                #[allow(clippy::cast_possible_truncation)]
                let (literals, distances, count) = (
                    257 + (counts & 0x1f) as u16,
                    1 + ((counts >> 5) & 0x1f) as u8,
                    4 + ((counts >> 10) & 0xf) as u8,
                );
                if usize::from(literals) > MAX_LITERAL_CODES
                    || usize::from(distances) > MAX_DISTANCE_CODES
                {
                    return Err(InflateError::Corrupt);
                }
                self.lengths.clear();
                self.lengths.resize(19, 0);
                self.step = Step::CodeLengthCodes { literals, distances, count, read: 0 };
                Ok(Progress::Went)
            }
            Step::CodeLengthCodes { literals, distances, count, read } => {
                if read == count {
                    // The code-length code lives in `distances` while the lengths are read.
                    let code_lengths = core::mem::take(&mut self.lengths);
                    self.fixed_codes = false;
                    self.distances.build(&code_lengths, false)?;
                    if self.distances.symbols.is_empty() {
                        return Err(InflateError::Corrupt);
                    }
                    self.lengths = code_lengths;
                    self.lengths.clear();
                    self.step = Step::CodeLengths { literals, distances, read: 0 };
                    return Ok(Progress::Went);
                }
                let Some(len) = self.take(3) else { return Ok(Progress::NeedsInput) };
                // Three bits.
                #[allow(clippy::cast_possible_truncation)]
                {
                    self.lengths[CODE_LENGTH_ORDER[usize::from(read)]] = len as u8;
                }
                self.step = Step::CodeLengthCodes { literals, distances, count, read: read + 1 };
                Ok(Progress::Went)
            }
            Step::CodeLengths { literals, distances, read } => {
                let total = literals + u16::from(distances);
                if read == total {
                    return self.use_dynamic_codes(usize::from(literals));
                }
                let Some((symbol, len)) = self.distances.decode(self.bits, self.bit_count)? else {
                    return Ok(Progress::NeedsInput);
                };
                let (extra, repeat_base, value) = match symbol {
                    0..=15 => (0, 1, Some(symbol)),
                    16 => (2, 3, None),
                    17 => (3, 3, Some(0)),
                    _ => (7, 11, Some(0)),
                };
                if len + extra > self.bit_count {
                    return Ok(Progress::NeedsInput);
                }
                self.take(len);
                // At most 7 extra bits.
                #[allow(clippy::cast_possible_truncation)]
                let repeat = repeat_base + self.take(extra).unwrap_or(0) as u16;
                let value = match value {
                    Some(value) => value,
                    // 16: the previous length again; there must be one.
                    None => u16::from(*self.lengths.last().ok_or(InflateError::Corrupt)?),
                };
                if read + repeat > total {
                    return Err(InflateError::Corrupt);
                }
                // A length is at most 15.
                #[allow(clippy::cast_possible_truncation)]
                self.lengths.extend(core::iter::repeat_n(value as u8, usize::from(repeat)));
                self.step = Step::CodeLengths { literals, distances, read: read + repeat };
                Ok(Progress::Went)
            }
            Step::Data => self.data(out, produced),
            Step::Copy { remaining, distance } => {
                let room = out.len() - *produced;
                let n = usize::from(remaining).min(room);
                for _ in 0..n {
                    let from =
                        (self.at + self.window_len - usize::from(distance)) % self.window_len;
                    let byte = self.window[from];
                    self.emit(byte, out, produced);
                }
                // `n` is at most `remaining`.
                #[allow(clippy::cast_possible_truncation)]
                let remaining = remaining - n as u16;
                if remaining > 0 {
                    self.step = Step::Copy { remaining, distance };
                    return Ok(Progress::OutputFull);
                }
                self.step = Step::Data;
                Ok(Progress::Went)
            }
        }
    }

    /// A literal, the block's end, or a match (length and distance read together).
    fn data(&mut self, out: &mut [u8], produced: &mut usize) -> Result<Progress, InflateError> {
        let Some((symbol, len)) = self.literals.decode(self.bits, self.bit_count)? else {
            return Ok(Progress::NeedsInput);
        };
        if symbol < 256 {
            if *produced == out.len() {
                return Ok(Progress::OutputFull);
            }
            self.take(len);
            // Below 256.
            #[allow(clippy::cast_possible_truncation)]
            self.emit(symbol as u8, out, produced);
            return Ok(Progress::Went);
        }
        if symbol == 256 {
            self.take(len);
            self.end_block();
            return Ok(Progress::Went);
        }
        let index = usize::from(symbol - 257);
        if index >= LENGTH_BASE.len() {
            return Err(InflateError::Corrupt);
        }
        let length_extra = u32::from(LENGTH_EXTRA[index]);
        let mut used = len + length_extra;
        if used > self.bit_count {
            return Ok(Progress::NeedsInput);
        }
        let Some((code, distance_len)) =
            self.distances.decode(self.bits >> used, self.bit_count - used)?
        else {
            return Ok(Progress::NeedsInput);
        };
        let code = usize::from(code);
        if code >= DISTANCE_BASE.len() {
            return Err(InflateError::Corrupt);
        }
        let distance_extra = u32::from(DISTANCE_EXTRA[code]);
        if used + distance_len + distance_extra > self.bit_count {
            return Ok(Progress::NeedsInput);
        }
        self.take(len);
        // At most 5 and 13 extra bits: the sums stay within u16.
        #[allow(clippy::cast_possible_truncation)]
        let length = LENGTH_BASE[index] + self.take(length_extra).unwrap_or(0) as u16;
        self.take(distance_len);
        #[allow(clippy::cast_possible_truncation)]
        let distance = DISTANCE_BASE[code] + self.take(distance_extra).unwrap_or(0) as u16;
        used += distance_len + distance_extra;
        let _ = used;
        if usize::from(distance) > self.filled {
            // Before the first byte of history: zlib's "invalid distance too far back".
            return Err(InflateError::Corrupt);
        }
        self.step = Step::Copy { remaining: length, distance };
        Ok(Progress::Went)
    }

    fn end_block(&mut self) {
        self.step = if self.last_block { Step::Done } else { Step::BlockHeader };
    }

    /// Writes a byte to `out` and to the history.
    #[inline]
    fn emit(&mut self, byte: u8, out: &mut [u8], produced: &mut usize) {
        out[*produced] = byte;
        *produced += 1;
        if self.window.is_empty() {
            self.window = alloc::vec![0; self.window_len];
        }
        self.window[self.at] = byte;
        self.at = (self.at + 1) % self.window_len;
        self.filled = (self.filled + 1).min(self.window_len);
    }

    /// Takes `count` bits (at most 32), if there are that many.
    fn take(&mut self, count: u32) -> Option<u32> {
        if count > self.bit_count {
            return None;
        }
        let value = self.bits & ((1u64 << count) - 1);
        self.bits >>= count;
        self.bit_count -= count;
        // At most 32 bits.
        #[allow(clippy::cast_possible_truncation)]
        Some(value as u32)
    }

    /// The fixed codes (§3.2.6), with the two literal/length and two distance codes no data
    /// may use (286–287, 30–31), so that using them is an error rather than an unknown code.
    fn use_fixed_codes(&mut self) -> Result<(), InflateError> {
        if self.fixed_codes {
            return Ok(());
        }
        let mut lengths = [0u8; 288];
        lengths[..144].fill(8);
        lengths[144..256].fill(9);
        lengths[256..280].fill(7);
        lengths[280..].fill(8);
        self.literals.build(&lengths, false)?;
        self.distances.build(&[5; 32], false)?;
        self.fixed_codes = true;
        Ok(())
    }

    /// Builds the block's codes from the lengths read.
    fn use_dynamic_codes(&mut self, literals: usize) -> Result<Progress, InflateError> {
        let lengths = core::mem::take(&mut self.lengths);
        let (literal_lengths, distance_lengths) = lengths.split_at(literals);
        if literal_lengths.get(256).copied().unwrap_or(0) == 0 {
            // No end-of-block code: the block could never end.
            return Err(InflateError::Corrupt);
        }
        self.fixed_codes = false;
        self.literals.build(literal_lengths, true)?;
        self.distances.build(distance_lengths, true)?;
        self.lengths = lengths;
        self.lengths.clear();
        self.step = Step::Data;
        Ok(Progress::Went)
    }
}

enum Progress {
    Went,
    NeedsInput,
    OutputFull,
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush};

    /// zlib-rs's raw DEFLATE of `data` with a sync flush, at `level` and `window_bits`.
    fn zlib_compress(compress: &mut Deflate, data: &[u8]) -> Vec<u8> {
        let mut out = alloc::vec![0u8; data.len() * 2 + 128];
        let before = compress.total_out();
        let _ = compress.compress(data, &mut out, DeflateFlush::SyncFlush);
        out.truncate((compress.total_out() - before) as usize);
        out
    }

    /// Inflates `input` fed in pieces of `piece` bytes into output room of `room` bytes at a
    /// time.
    fn ours(
        inflate: &mut SmallInflate,
        input: &[u8],
        piece: usize,
        room: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            let mut chunk = chunk;
            loop {
                let mut buffer = alloc::vec![0u8; room.max(1)];
                let Inflated { consumed, produced } = inflate.inflate(chunk, &mut buffer)?;
                out.extend_from_slice(&buffer[..produced]);
                chunk = &chunk[consumed..];
                if produced < buffer.len() && chunk.is_empty() {
                    break;
                }
                if produced == 0 && consumed == 0 {
                    return Err(InflateError::Corrupt);
                }
            }
        }
        Ok(out)
    }

    fn message() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2000),
            prop::collection::vec(prop::sample::select(b"ab{}\":, 0123".to_vec()), 0..6000),
            (prop::collection::vec(any::<u8>(), 1..40), 1usize..300)
                .prop_map(|(unit, times)| unit.repeat(times)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// What zlib-rs writes, at every level and window, with context kept across
        /// messages, comes back byte for byte, whatever the input pieces and output room.
        #[test]
        fn inflates_what_zlib_writes(
            level in 0i32..=9,
            window_bits in 9u8..=15,
            messages in prop::collection::vec(message(), 1..5),
            piece in 1usize..3000,
            room in 1usize..5000,
        ) {
            let mut compress = Deflate::new(level, false, window_bits);
            let mut inflate = SmallInflate::new(window_bits);
            for message in &messages {
                let compressed = zlib_compress(&mut compress, message);
                let inflated = ours(&mut inflate, &compressed, piece, room);
                prop_assert_eq!(inflated.as_ref(), Ok(message));
            }
        }

        /// On any bytes, ours fails exactly where zlib-rs fails and otherwise produces what it
        /// produces (up to the point zlib-rs stopped).
        #[test]
        fn agrees_with_zlib_on_any_bytes(
            window_bits in 9u8..=15,
            prefix in message(),
            noise in prop::collection::vec(any::<u8>(), 0..200),
            flip in any::<usize>(),
        ) {
            // A valid stream, then damage: a flipped bit, or garbage appended.
            let mut compress = Deflate::new(6, false, window_bits);
            let mut data = zlib_compress(&mut compress, &prefix);
            if !data.is_empty() && flip % 2 == 0 {
                let at = flip / 2 % data.len();
                data[at] ^= 1 << (flip % 8);
            }
            data.extend_from_slice(&noise);
            // zlib-rs keeps a 32 KiB history whatever the window bits, so it lets distances
            // reach past a smaller window; ours refuses them (RFC 7692 §7.1.2: the peer
            // compresses within the window it agreed to). So ours with a 32 KiB window must
            // agree with zlib-rs exactly, and ours with the negotiated window may only refuse
            // more.
            let mut theirs = Inflate::new(false, window_bits);
            let mut expected = alloc::vec![0u8; 1 << 20];
            let result = theirs.decompress(&data, &mut expected, InflateFlush::SyncFlush);
            expected.truncate(theirs.total_out() as usize);
            let widest = ours(&mut SmallInflate::new(15), &data, data.len().max(1), 1 << 20);
            match result {
                Err(_) => prop_assert!(widest.is_err(), "zlib-rs refused, ours gave {:?}", widest.map(|g| g.len())),
                Ok(status) => {
                    let widest = widest.map_err(|e| TestCaseError::fail(format!("ours refused ({status:?}): {e}")))?;
                    prop_assert_eq!(&widest[..], &expected[..]);
                }
            }
            let negotiated = ours(&mut SmallInflate::new(window_bits), &data, 7, 1000);
            if let Ok(negotiated) = negotiated {
                prop_assert_eq!(&negotiated[..], &expected[..]);
            }
        }
    }

    #[test]
    fn the_rfc_7692_examples() {
        let mut inflate = SmallInflate::new(15);
        let tail = [0x00, 0x00, 0xff, 0xff];
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let again = [0xf2, 0x00, 0x11, 0x00, 0x00];
        for message in [&hello[..], &again[..]] {
            let mut input = message.to_vec();
            input.extend_from_slice(&tail);
            assert_eq!(ours(&mut inflate, &input, 1, 1).unwrap(), b"Hello");
        }
        // A distance before the first byte produced.
        let mut fresh = SmallInflate::new(15);
        assert_eq!(ours(&mut fresh, &again, 100, 100), Err(InflateError::Corrupt));
    }

    #[test]
    fn a_match_beyond_the_negotiated_window_is_refused() {
        // A repeat 1,000 bytes back: within 15-bit windows, beyond a 9-bit one.
        let unit: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let data = unit.repeat(2);
        let compressed = zlib_compress(&mut Deflate::new(6, false, 15), &data);
        assert_eq!(ours(&mut SmallInflate::new(15), &compressed, 50, 50).unwrap(), data);
        assert_eq!(
            ours(&mut SmallInflate::new(9), &compressed, 50, 50),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn the_history_is_the_window_and_no_more() {
        let mut inflate = SmallInflate::new(9);
        let mut compress = Deflate::new(1, false, 9);
        let data = alloc::vec![b'x'; 10_000];
        let compressed = zlib_compress(&mut compress, &data);
        assert_eq!(ours(&mut inflate, &compressed, 7, 333).unwrap(), data);
        assert_eq!(inflate.window.capacity(), 512);
    }
}
