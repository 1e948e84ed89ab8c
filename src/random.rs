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

#[cfg(feature = "std")]
mod os_seeded {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    /// The process's SipHash key, from the operating system once (through [`RandomState`],
    /// which std seeds from the OS).
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    /// Where the next source's counter starts: each source gets 2^32 hashes of its own.
    static NEXT_SOURCE: AtomicU64 = AtomicU64::new(0);

    /// The default source with the `std` feature: SipHash, keyed once per process from the
    /// operating system's randomness, over a counter.
    ///
    /// Every 8 bytes cost one SipHash of a counter: no system call per frame. SipHash is a
    /// pseudorandom function, so without its secret key the output cannot be predicted, which
    /// is what §10.3 asks of masking keys. Each source counts in a range of its own, so it
    /// holds only its counter: 8 bytes in every connection.
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
    /// assert_eq!(std::mem::size_of::<OsSeededRandom>(), 8);
    /// ```
    #[derive(Debug, Clone)]
    pub struct OsSeededRandom {
        counter: u64,
    }

    impl OsSeededRandom {
        /// A source of its own, under the process's key.
        #[must_use]
        pub fn new() -> OsSeededRandom {
            let start = NEXT_SOURCE.fetch_add(1 << 32, Ordering::Relaxed);
            OsSeededRandom { counter: start }
        }

        fn next_word(&mut self) -> [u8; 8] {
            self.counter = self.counter.wrapping_add(1);
            let mut hasher = KEYS.get_or_init(RandomState::new).build_hasher();
            hasher.write_u64(self.counter);
            hasher.finish().to_ne_bytes()
        }
    }

    impl Default for OsSeededRandom {
        fn default() -> OsSeededRandom {
            OsSeededRandom::new()
        }
    }

    impl super::RandomSource for OsSeededRandom {
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            let (words, tail) = dest.as_chunks_mut::<8>();
            for word in words {
                *word = self.next_word();
            }
            if !tail.is_empty() {
                let last = self.next_word();
                tail.copy_from_slice(&last[..tail.len()]);
            }
        }
    }
}
