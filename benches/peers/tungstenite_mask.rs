//! tungstenite's payload masking, reproduced for comparison.
//!
//! tungstenite 0.30 keeps its masking private (`src/protocol/frame/mask.rs`,
//! `apply_mask_fast32`), so its algorithm is reproduced here: a byte loop up to the first
//! 4-byte-aligned address, a loop XORing aligned `u32` words with the key rotated by the length
//! of that head, and a byte loop for the tail. tungstenite takes the words with `unsafe
//! align_to_mut`; this crate forbids `unsafe`, so the split is made at `align_offset(4)`, which
//! yields the same words. (fastwebsockets' `unmask`, benchmarked directly, is the same
//! algorithm with the original `unsafe` code.)

/// The byte-at-a-time loop tungstenite uses for the unaligned head and the tail.
fn apply_mask_fallback(buf: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// tungstenite's `apply_mask_fast32` algorithm.
pub(crate) fn apply_mask_fast32(buf: &mut [u8], mask: [u8; 4]) {
    let head = buf.as_ptr().align_offset(4).min(buf.len());
    let (prefix, rest) = buf.split_at_mut(head);
    apply_mask_fallback(prefix, mask);
    let mask_u32 = u32::from_ne_bytes(mask);
    let shift = 8 * (head as u32 & 3);
    let mask_u32 = if cfg!(target_endian = "big") {
        mask_u32.rotate_left(shift)
    } else {
        mask_u32.rotate_right(shift)
    };
    let (words, suffix) = rest.as_chunks_mut::<4>();
    for word in words {
        *word = (u32::from_ne_bytes(*word) ^ mask_u32).to_ne_bytes();
    }
    apply_mask_fallback(suffix, mask_u32.to_ne_bytes());
}
