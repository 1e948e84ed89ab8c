//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is masked: payload byte `i` is XORed with byte `i % 4` of the
//! frame's 32-bit masking key. Unmasking is the same operation. This runs over every byte a
//! server receives, so the payload is cut into fixed-size blocks whose 64-bit lanes are XORed
//! with the key repeated twice, a shape the compiler turns into SIMD instructions on every
//! target without `unsafe`; the byte-at-a-time [`apply_mask_naive`] stays beside it as the
//! oracle the tests and fuzzer compare against.

/// The block for short payloads and tails: one SSE2/NEON register.
const BLOCK: usize = 16;
/// The block for the bulk of long payloads: four registers per loop iteration.
const WIDE_BLOCK: usize = 64;
/// From this length on, the payload is first brought to a `BLOCK` boundary.
const ALIGN_FROM_LEN: usize = 256;

/// Masks (or unmasks) a whole payload in place with `key` (§5.3).
///
/// ```
/// use wsmachine::frame::apply_mask;
///
/// // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut payload = *b"Hello";
/// apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    xor_with_pattern(buf, key);
}

/// Masks a piece of a payload that starts `offset` bytes into the frame's payload.
///
/// Payloads arrive in pieces; each piece is unmasked as it arrives by passing how many payload
/// bytes came before it. Only `offset % 4` matters.
///
/// ```
/// use wsmachine::frame::{apply_mask, apply_mask_at};
///
/// let key = [1, 2, 3, 4];
/// let mut whole = *b"split anywhere";
/// let mut pieces = whole;
/// apply_mask(&mut whole, key);
/// let (first, second) = pieces.split_at_mut(5);
/// apply_mask_at(first, key, 0);
/// apply_mask_at(second, key, 5);
/// assert_eq!(whole, pieces);
/// ```
#[inline]
pub fn apply_mask_at(buf: &mut [u8], key: [u8; 4], offset: usize) {
    xor_with_pattern(buf, rotate_key(key, offset));
}

/// The definition of masking, one byte at a time: the oracle for the fast path.
///
/// ```
/// use wsmachine::frame::{apply_mask_at, apply_mask_naive};
///
/// let mut fast = [0u8; 37];
/// let mut naive = [0u8; 37];
/// apply_mask_at(&mut fast, [9, 8, 7, 6], 3);
/// apply_mask_naive(&mut naive, [9, 8, 7, 6], 3);
/// assert_eq!(fast, naive);
/// ```
pub fn apply_mask_naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset.wrapping_add(i)) & 3];
    }
}

/// The key as seen from `offset` bytes into the payload: byte `i` of the result masks payload
/// byte `offset + i`.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let phase = offset & 3;
    [key[phase], key[(phase + 1) & 3], key[(phase + 2) & 3], key[(phase + 3) & 3]]
}

/// XORs `buf` with `key` repeated, starting at key byte 0.
///
/// A long payload is first brought to a 16-byte boundary, so that no vector load or store in
/// the bulk straddles two cache lines.
#[inline]
fn xor_with_pattern(buf: &mut [u8], key: [u8; 4]) {
    if buf.len() < ALIGN_FROM_LEN {
        return xor_from_any_address(buf, key);
    }
    let head_len = buf.as_ptr().align_offset(BLOCK).min(buf.len());
    let (head, body) = buf.split_at_mut(head_len);
    xor_from_any_address(head, key);
    xor_from_any_address(body, rotate_key(key, head_len));
}

/// Long payloads go through 64-byte blocks (four 16-byte vector XORs, or two with AVX2, per
/// iteration), the rest through 16-byte blocks, 4-byte words and at most 3 single bytes. Every
/// piece is a whole number of key periods long, so each starts at key byte 0 again, and no
/// byte is stored twice: a load of bytes written by two overlapping stores cannot be
/// forwarded from them, which costs a payload masked again soon after (as a benchmark does).
#[inline]
fn xor_from_any_address(buf: &mut [u8], key: [u8; 4]) {
    let key_word = u32::from_ne_bytes(key);
    let key_pair = repeat_key(key);
    let (wide_blocks, rest) = buf.as_chunks_mut::<WIDE_BLOCK>();
    xor_blocks(wide_blocks, key_pair);
    let (blocks, rest) = rest.as_chunks_mut::<BLOCK>();
    xor_blocks(blocks, key_pair);
    let (words, tail) = rest.as_chunks_mut::<4>();
    for word in words {
        *word = (u32::from_ne_bytes(*word) ^ key_word).to_ne_bytes();
    }
    for (byte, mask) in tail.iter_mut().zip(key) {
        *byte ^= mask;
    }
}

/// Masks a short payload (a 7-bit length, at most 125 bytes, §5.2) in place with `key`: the
/// shape for payloads whose length changes from frame to frame, read once after they arrive.
/// One loop of 16-byte blocks and one overlapping store of the last 16 bytes (two 8-byte
/// stores below 16, two 4-byte ones below 8) leave fewer branches to mispredict than
/// [`apply_mask`]'s loops over words and bytes; with random lengths of 2–125 bytes that is
/// about 3 ns a frame here.
#[inline]
pub(crate) fn apply_mask_short(buf: &mut [u8], key: [u8; 4]) {
    let len = buf.len();
    if len < 8 {
        return xor_under_eight(buf, key);
    }
    let key_pair = repeat_key(key);
    if len < BLOCK {
        let last_start = len - 8;
        let last = lane_at(buf, last_start) ^ repeat_key(rotate_key(key, last_start));
        let first = lane_at(buf, 0) ^ key_pair;
        buf[..8].copy_from_slice(&first.to_ne_bytes());
        buf[last_start..].copy_from_slice(&last.to_ne_bytes());
        return;
    }
    let last_start = len - BLOCK;
    let mut last = [0u8; BLOCK];
    last.copy_from_slice(&buf[last_start..]);
    let (blocks, _) = buf.as_chunks_mut::<BLOCK>();
    xor_blocks(blocks, key_pair);
    if !len.is_multiple_of(BLOCK) {
        xor_blocks(core::slice::from_mut(&mut last), repeat_key(rotate_key(key, last_start)));
        buf[last_start..].copy_from_slice(&last);
    }
}

/// Payloads of 0–7 bytes: one 4-byte word and an overlapping one for 4–7 bytes, single bytes
/// below that.
#[inline]
fn xor_under_eight(buf: &mut [u8], key: [u8; 4]) {
    let len = buf.len();
    if len < 4 {
        for (byte, mask) in buf.iter_mut().zip(key) {
            *byte ^= mask;
        }
        return;
    }
    let last_start = len - 4;
    let mut last = [0; 4];
    last.copy_from_slice(&buf[last_start..]);
    let masked_last = u32::from_ne_bytes(last) ^ u32::from_ne_bytes(rotate_key(key, last_start));
    let mut first = [0; 4];
    first.copy_from_slice(&buf[..4]);
    let masked_first = u32::from_ne_bytes(first) ^ u32::from_ne_bytes(key);
    buf[..4].copy_from_slice(&masked_first.to_ne_bytes());
    buf[last_start..].copy_from_slice(&masked_last.to_ne_bytes());
}

/// The 8 bytes of `buf` from `start`, which must be in bounds.
#[inline]
fn lane_at(buf: &[u8], start: usize) -> u64 {
    let mut lane = [0; 8];
    lane.copy_from_slice(&buf[start..start + 8]);
    u64::from_ne_bytes(lane)
}

/// The key repeated over a 64-bit lane.
#[inline]
fn repeat_key(key: [u8; 4]) -> u64 {
    let word = u32::from_ne_bytes(key);
    u64::from(word) | (u64::from(word) << 32)
}

/// XORs each `N`-byte block, as `u64` lanes, with the key repeated; a block of fixed size lets
/// the compiler turn the lanes into vector instructions with no bounds checks.
#[inline]
fn xor_blocks<const N: usize>(blocks: &mut [[u8; N]], key_pair: u64) {
    for block in blocks {
        let (lanes, _) = block.as_chunks_mut::<8>();
        for lane in lanes {
            *lane = (u64::from_ne_bytes(*lane) ^ key_pair).to_ne_bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_equals_oracle_for_every_length_alignment_and_offset() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let source: [u8; 320] = core::array::from_fn(|i| (i * 31 % 251) as u8);
        for start in 0..16 {
            for len in 0..source.len() - start {
                for offset in 0..8 {
                    let mut fast = source;
                    let mut naive = source;
                    apply_mask_at(&mut fast[start..start + len], key, offset);
                    apply_mask_naive(&mut naive[start..start + len], key, offset);
                    assert_eq!(fast, naive, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn short_path_equals_oracle_for_every_short_length_and_alignment() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let source: [u8; 160] = core::array::from_fn(|i| (i * 31 % 251) as u8);
        for start in 0..16 {
            for len in 0..=125 {
                let mut fast = source;
                let mut naive = source;
                apply_mask_short(&mut fast[start..start + len], key);
                apply_mask_naive(&mut naive[start..start + len], key, 0);
                assert_eq!(fast, naive, "start {start} len {len}");
            }
        }
    }
}
