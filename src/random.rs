//! Where randomness comes from: a source the caller can replace (RFC 6455 §4.1, §5.3, §10.3).
//!
//! The handshake key and every frame's masking key must be unpredictable to anything that can
//! see the traffic (§10.3). The crate never reaches for a global generator: each place that
//! needs random bytes takes a [`RandomSource`], so tests can be deterministic and an
//! application can bring its own generator.

/// A supplier of random bytes.
///
/// Any `FnMut(&mut [u8])` closure is one, which keeps tests short:
///
/// ```
/// use wsmachine::RandomSource;
///
/// let mut zeros = |buf: &mut [u8]| buf.fill(0);
/// let mut key = [1u8; 4];
/// zeros.fill_bytes(&mut key);
/// assert_eq!(key, [0; 4]);
/// ```
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self(dest);
    }
}

#[cfg(feature = "std")]
pub use os_seeded::OsSeededRandom;

/// The ChaCha block function (RFC 8439 §2.3) with `double_rounds` double rounds (10: ChaCha20):
/// 64 bytes of keystream for a key and the four words of counter and nonce. The generator
/// behind [`OsSeededRandom`] counts in the first two of those words; the RFC's test vector
/// checks the function in the tests.
///
/// The state is kept as four rows of four words, so that each step of a quarter round works
/// on a whole row at once (the compiler makes each a vector instruction) and a diagonal round
/// is a column round after rotating rows `b`, `c` and `d` by one, two and three lanes.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
fn chacha_block(key: &[u32; 8], counter_and_nonce: [u32; 4], double_rounds: usize) -> [u8; 64] {
    const SIGMA: Row = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
    let initial: [Row; 4] = [
        SIGMA,
        [key[0], key[1], key[2], key[3]],
        [key[4], key[5], key[6], key[7]],
        counter_and_nonce,
    ];
    let [mut a, mut b, mut c, mut d] = initial;
    for _ in 0..double_rounds {
        quarter_round_rows(&mut a, &mut b, &mut c, &mut d);
        // Diagonals into columns, a column round, and back.
        (b, c, d) = (rotate_lanes(b, 1), rotate_lanes(c, 2), rotate_lanes(d, 3));
        quarter_round_rows(&mut a, &mut b, &mut c, &mut d);
        (b, c, d) = (rotate_lanes(b, 3), rotate_lanes(c, 2), rotate_lanes(d, 1));
    }
    let mut out = [0u8; 64];
    let rows = [a, b, c, d];
    for (chunk, (row, start)) in out.chunks_exact_mut(16).zip(rows.iter().zip(&initial)) {
        for ((bytes, word), start) in chunk.chunks_exact_mut(4).zip(row).zip(start) {
            bytes.copy_from_slice(&word.wrapping_add(*start).to_le_bytes());
        }
    }
    out
}

/// Four words of the ChaCha state.
type Row = [u32; 4];

/// The ChaCha quarter round (RFC 8439 §2.1) on the four columns at once.
#[inline(always)]
fn quarter_round_rows(a: &mut Row, b: &mut Row, c: &mut Row, d: &mut Row) {
    *a = add(*a, *b);
    *d = rotate_left(xor(*d, *a), 16);
    *c = add(*c, *d);
    *b = rotate_left(xor(*b, *c), 12);
    *a = add(*a, *b);
    *d = rotate_left(xor(*d, *a), 8);
    *c = add(*c, *d);
    *b = rotate_left(xor(*b, *c), 7);
}

#[inline(always)]
fn add(x: Row, y: Row) -> Row {
    core::array::from_fn(|i| x[i].wrapping_add(y[i]))
}

#[inline(always)]
fn xor(x: Row, y: Row) -> Row {
    core::array::from_fn(|i| x[i] ^ y[i])
}

#[inline(always)]
fn rotate_left(x: Row, bits: u32) -> Row {
    core::array::from_fn(|i| x[i].rotate_left(bits))
}

/// The row with its lanes moved `by` places toward the front.
#[inline(always)]
fn rotate_lanes(x: Row, by: usize) -> Row {
    core::array::from_fn(|i| x[(i + by) % 4])
}

#[cfg(feature = "std")]
mod os_seeded {
    use std::cell::RefCell;

    use super::chacha_block;

    /// Double rounds of the generator: ChaCha12, as `rand`'s `StdRng` and `ThreadRng` (12
    /// rounds keep a wide margin over the best known attack, on 7).
    const DOUBLE_ROUNDS: usize = 6;

    /// A ChaCha12 keystream under a key from the operating system: a cryptographically
    /// secure generator (RFC 6455 §5.3 asks for "a strong source of entropy").
    struct Generator {
        key: [u32; 8],
        /// The next block's number.
        block: u64,
        buffer: [u8; 64],
        /// How much of `buffer` is used.
        used: usize,
    }

    impl Generator {
        fn from_os() -> Generator {
            let mut seed = [0u8; 32];
            if getrandom::fill(&mut seed).is_err() {
                // No OS generator (a sandbox without getrandom): std's hash keys, which std
                // takes from the OS by other means, stand in.
                seed = fallback_seed();
            }
            let mut key = [0u32; 8];
            for (word, bytes) in key.iter_mut().zip(seed.chunks_exact(4)) {
                *word = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            }
            Generator { key, block: 0, buffer: [0; 64], used: 64 }
        }

        fn fill(&mut self, mut dest: &mut [u8]) {
            if let Ok(mask) = <&mut [u8; 4]>::try_from(&mut *dest) {
                // A masking key, the common case: a fixed-size copy.
                if let Some(bytes) = self.buffer.get(self.used..self.used + 4) {
                    mask.copy_from_slice(bytes);
                    self.used += 4;
                    return;
                }
            }
            while !dest.is_empty() {
                if self.used == self.buffer.len() {
                    self.refill();
                }
                let take = dest.len().min(self.buffer.len() - self.used);
                let (now, rest) = dest.split_at_mut(take);
                now.copy_from_slice(&self.buffer[self.used..self.used + take]);
                self.used += take;
                dest = rest;
            }
        }
    }

    impl Generator {
        fn refill(&mut self) {
            let counter = self.block.to_le_bytes();
            let low = u32::from_le_bytes([counter[0], counter[1], counter[2], counter[3]]);
            let high = u32::from_le_bytes([counter[4], counter[5], counter[6], counter[7]]);
            self.buffer = chacha_block(&self.key, [low, high, 0, 0], DOUBLE_ROUNDS);
            self.block += 1;
            self.used = 0;
        }
    }

    /// 32 bytes derived from std's `RandomState`, for when the OS generator fails.
    fn fallback_seed() -> [u8; 32] {
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        let mut seed = [0u8; 32];
        for (index, chunk) in seed.chunks_exact_mut(8).enumerate() {
            let mut hasher = state.build_hasher();
            hasher.write_usize(index);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        seed
    }

    thread_local! {
        /// One generator per thread, keyed at its first use on the thread.
        static GENERATOR: RefCell<Generator> = RefCell::new(Generator::from_os());
    }

    /// The default source with the `std` feature: ChaCha12 keyed from the operating system
    /// (`getrandom`), one generator per thread, as `rand`'s `ThreadRng` (which tungstenite
    /// uses) does.
    ///
    /// A cryptographically secure generator, so masking keys and handshake nonces cannot be
    /// predicted from the ones seen (§5.3, §10.3). A handle of no size: a connection holds
    /// nothing for it, and one ChaCha block (64 bytes) serves sixteen masking keys.
    ///
    /// ```
    /// use wsmachine::{OsSeededRandom, RandomSource};
    ///
    /// let (mut first, mut second) = (OsSeededRandom::new(), OsSeededRandom::new());
    /// let (mut a, mut b, mut c) = ([0u8; 16], [0u8; 16], [0u8; 16]);
    /// first.fill_bytes(&mut a);
    /// first.fill_bytes(&mut b);
    /// second.fill_bytes(&mut c);
    /// assert!(a != b && a != c && b != c);
    /// assert_eq!(std::mem::size_of::<OsSeededRandom>(), 0);
    /// ```
    #[derive(Debug, Clone, Copy, Default)]
    pub struct OsSeededRandom;

    impl OsSeededRandom {
        /// A handle to the thread's generator.
        #[must_use]
        pub fn new() -> OsSeededRandom {
            OsSeededRandom
        }
    }

    impl super::RandomSource for OsSeededRandom {
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            GENERATOR.with_borrow_mut(|generator| generator.fill(dest));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::chacha_block;

    /// ChaCha20.
    fn chacha20_block(key: &[u32; 8], counter_and_nonce: [u32; 4]) -> [u8; 64] {
        chacha_block(key, counter_and_nonce, 10)
    }

    fn hex(text: &str) -> alloc::vec::Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn key_0_to_31() -> [u32; 8] {
        core::array::from_fn(|i| {
            let b = (4 * i) as u32;
            b | (b + 1) << 8 | (b + 2) << 16 | (b + 3) << 24
        })
    }

    #[test]
    fn the_block_function_matches_the_rfc_8439_test_vector() {
        // §2.3.2: key 00..1f, counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00.
        let block = chacha20_block(&key_0_to_31(), [1, 0x0900_0000, 0x4a00_0000, 0]);
        let expected = hex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
             d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
        assert_eq!(block[..], expected[..]);
    }

    #[test]
    fn counting_blocks_gives_the_keystream_of_an_independent_implementation() {
        // The first two blocks under key 00..1f with a zero nonce, from OpenSSL's ChaCha20
        // (Python's `cryptography`).
        let expected = hex("39fd2b7dd9c5196a8dbd0377b8dc4a498a35d86fbcde6accb2cc7d4cd8ea2492\
             2b23cce7a26023ab3f0eef693ac87f64258235eab1f7a32dc22762a0485b410c\
             18b84231ade6a6d113615c61af434e27f8b1f3f5e1ad5b5cecf8fc122a35755c\
             7208086dd1ee3c5d9d815824640e003c9ba0f65ede5d59ce0d2a4a7f31955acd");
        let key = key_0_to_31();
        let stream = [chacha20_block(&key, [0, 0, 0, 0]), chacha20_block(&key, [1, 0, 0, 0])];
        assert_eq!(stream.concat(), expected);
    }
}
