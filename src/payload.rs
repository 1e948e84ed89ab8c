//! The bytes of an owned message: short ones inline, long ones shared.

use alloc::vec::Vec;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use bytes::Bytes;

/// The longest payload kept inline: the room a [`Bytes`] takes (the length is in the tag).
pub(crate) const INLINE_CAPACITY: usize = 32;

/// The inline bytes, on the word boundary a [`Bytes`] starts on: padded with zeros (or
/// whatever followed them) past the payload's length.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Block([u8; INLINE_CAPACITY]);

/// Declares [`Repr`] with one inline variant per length, and the functions that turn a length
/// into its variant and a variant into its length and bytes.
macro_rules! representation {
    ($($len:literal => $variant:ident),* $(,)?) => {
        /// A payload: inline, its length told by the variant itself, or shared.
        ///
        /// One variant per inline length, so that the length is the tag: the bytes then sit
        /// exactly where a [`Bytes`] sits, with nothing else in their words, and a payload
        /// moves (out of the reader, out of `recv`, into `send`) as a tag and two 16-byte
        /// halves, the pieces its bytes were written in. A length beside the bytes made
        /// some of those moves read across two writes, each a stall of a dozen cycles until
        /// both reached memory (store forwarding): a third of the owned echo loop's time.
        #[derive(Clone)]
        enum Repr {
            $($variant(Block),)*
            Shared(Bytes),
        }

        impl Repr {
            /// `block` as an inline payload of `len` bytes, if `len` fits.
            #[inline]
            fn inline(len: usize, block: Block) -> Option<Repr> {
                match len {
                    $($len => Some(Repr::$variant(block)),)*
                    _ => None,
                }
            }

            /// The length and bytes of an inline payload.
            #[inline]
            fn as_inline(&self) -> Option<(usize, &Block)> {
                match self {
                    $(Repr::$variant(block) => Some(($len, block)),)*
                    Repr::Shared(_) => None,
                }
            }

            /// The bytes.
            #[inline]
            fn as_slice(&self) -> &[u8] {
                match self {
                    $(Repr::$variant(block) => &block.0[..$len],)*
                    Repr::Shared(bytes) => bytes,
                }
            }
        }
    };
}

representation!(
    0 => I0, 1 => I1, 2 => I2, 3 => I3, 4 => I4, 5 => I5, 6 => I6, 7 => I7,
    8 => I8, 9 => I9, 10 => I10, 11 => I11, 12 => I12, 13 => I13, 14 => I14, 15 => I15,
    16 => I16, 17 => I17, 18 => I18, 19 => I19, 20 => I20, 21 => I21, 22 => I22, 23 => I23,
    24 => I24, 25 => I25, 26 => I26, 27 => I27, 28 => I28, 29 => I29, 30 => I30, 31 => I31,
    32 => I32,
);

/// The bytes of an owned message ([`Event::Binary`](crate::Event::Binary),
/// [`Message::Binary`](crate::Message::Binary), inside [`Text`](crate::Text)): up to 32
/// bytes held inline, longer ones as [`Bytes`].
///
/// A short message received is copied out of the receive buffer into the value itself: no
/// allocation and no reference count, which on a stream of small messages costs less than
/// sharing the buffer (two atomic operations a message). A long one is cut out of the
/// receive buffer without a copy. Either way it reads as a `&[u8]`.
///
/// ```
/// use wsmachine::Payload;
///
/// let short = Payload::copy_from_slice(b"hello");
/// assert_eq!(short, b"hello"[..]);
/// assert!(short.is_inline());
/// let long = Payload::from(vec![7u8; 1000]);
/// assert_eq!(long.len(), 1000);
/// assert!(!long.is_inline());
/// assert_eq!(long.into_bytes(), vec![7u8; 1000]); // no copy for a shared payload
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

impl Payload {
    /// An empty payload.
    #[must_use]
    pub const fn new() -> Payload {
        Payload(Repr::I0(Block([0; INLINE_CAPACITY])))
    }

    /// A payload holding a copy of `bytes`: inline when short, else in a new [`Bytes`].
    #[must_use]
    pub fn copy_from_slice(bytes: &[u8]) -> Payload {
        Payload::inline(bytes)
            .unwrap_or_else(|| Payload(Repr::Shared(Bytes::copy_from_slice(bytes))))
    }

    /// `bytes` held inline, if they fit.
    #[inline]
    pub(crate) fn inline(bytes: &[u8]) -> Option<Payload> {
        if bytes.len() > INLINE_CAPACITY {
            return None;
        }
        let mut block = Block([0; INLINE_CAPACITY]);
        block.0[..bytes.len()].copy_from_slice(bytes);
        Repr::inline(bytes.len(), block).map(Payload)
    }

    /// The `len` bytes at `start` in `buf` held inline, if they fit. When `buf` goes on past
    /// them, a whole inline block is copied (a few wide moves rather than a call to copy a
    /// variable length); the bytes past `len` are never read.
    #[inline]
    pub(crate) fn inline_at(buf: &[u8], start: usize, len: usize) -> Option<Payload> {
        if len > INLINE_CAPACITY {
            return None;
        }
        let Some(block) = buf.get(start..start + INLINE_CAPACITY) else {
            // Kept out of line: merged with the block's copy, both would become a call.
            return Payload::inline_cold(buf.get(start..start + len)?);
        };
        Repr::inline(len, Block(block.try_into().ok()?)).map(Payload)
    }

    /// Appends the bytes to `out`. An inline payload is copied as its whole block (a few wide
    /// moves rather than a call to copy a variable length) and `out` cut back to its bytes, so
    /// `out` should have room for [`INLINE_CAPACITY`] more.
    #[inline]
    pub(crate) fn append_to(&self, out: &mut Vec<u8>) {
        match self.0.as_inline() {
            Some((len, block)) => {
                let end = out.len() + len;
                out.extend_from_slice(&block.0);
                out.truncate(end);
            }
            None => out.extend_from_slice(self.as_slice()),
        }
    }

    #[cold]
    #[inline(never)]
    fn inline_cold(bytes: &[u8]) -> Option<Payload> {
        Payload::inline(bytes)
    }

    /// Whether the bytes are held in the value itself (short payloads) rather than shared.
    #[must_use]
    pub fn is_inline(&self) -> bool {
        !matches!(self.0, Repr::Shared(_))
    }

    /// The bytes.
    #[must_use]
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The bytes as [`Bytes`]: without a copy when shared, copied into a new buffer when
    /// inline.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Shared(bytes) => bytes,
            _ => Bytes::copy_from_slice(self.as_slice()),
        }
    }
}

impl Default for Payload {
    fn default() -> Payload {
        Payload::new()
    }
}

impl Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl core::borrow::Borrow<[u8]> for Payload {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Shares `bytes` as they are (no copy, even when short).
impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Payload {
        Payload(Repr::Shared(bytes))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Payload {
        Payload::inline(&bytes).unwrap_or_else(|| Payload(Repr::Shared(Bytes::from(bytes))))
    }
}

impl From<&'static [u8]> for Payload {
    fn from(bytes: &'static [u8]) -> Payload {
        Payload::inline(bytes).unwrap_or_else(|| Payload(Repr::Shared(Bytes::from_static(bytes))))
    }
}

impl<const N: usize> From<&'static [u8; N]> for Payload {
    fn from(bytes: &'static [u8; N]) -> Payload {
        Payload::from(&bytes[..])
    }
}

impl From<Payload> for Bytes {
    fn from(payload: Payload) -> Bytes {
        payload.into_bytes()
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Payload {}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for Payload {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<Bytes> for Payload {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == other.as_ref()
    }
}

impl Hash for Payload {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// As a byte string literal: `b"..."`, escaped.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_slice().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn a_payload_takes_no_more_room_than_a_tagged_bytes() {
        assert_eq!(core::mem::size_of::<Payload>(), core::mem::size_of::<Bytes>() + 8);
    }

    #[test]
    fn payloads_up_to_the_inline_capacity_are_inline_and_longer_ones_shared() {
        for len in 0..=INLINE_CAPACITY + 1 {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let payload = Payload::copy_from_slice(&bytes);
            assert_eq!(payload.is_inline(), len <= INLINE_CAPACITY, "{len}");
            assert_eq!(payload, bytes);
            assert_eq!(Payload::from(bytes.clone()), payload);
            assert_eq!(payload.clone().into_bytes(), bytes);
        }
    }

    #[test]
    fn inline_at_takes_exactly_the_bytes_asked_for_whatever_follows_them() {
        let buf: Vec<u8> = (0..100).collect();
        for start in [0, 2, 50, 62, 90] {
            for len in 0..=(100 - start).min(INLINE_CAPACITY) {
                let payload = Payload::inline_at(&buf, start, len).unwrap();
                assert_eq!(payload, buf[start..start + len], "{start} {len}");
                assert_eq!(payload, Payload::copy_from_slice(&buf[start..start + len]));
            }
        }
        assert!(Payload::inline_at(&buf, 0, INLINE_CAPACITY + 1).is_none());
        assert!(Payload::inline_at(&buf, 95, 6).is_none(), "past the end");
    }

    #[test]
    fn append_to_appends_exactly_the_bytes_inline_or_shared() {
        for len in 0..=INLINE_CAPACITY + 2 {
            let bytes: Vec<u8> = (1..=len as u8).collect();
            for payload in
                [Payload::copy_from_slice(&bytes), Payload::from(Bytes::from(bytes.clone()))]
            {
                let mut out = b"head".to_vec();
                payload.append_to(&mut out);
                assert_eq!(out, [&b"head"[..], &bytes].concat(), "{len}");
            }
        }
    }

    #[test]
    #[cfg(feature = "std")] // RandomState
    fn equality_and_hash_look_at_the_bytes_only() {
        use core::hash::BuildHasher;
        let inline = Payload::copy_from_slice(b"same");
        let shared = Payload::from(Bytes::from_static(b"same"));
        assert!(inline.is_inline() && !shared.is_inline());
        assert_eq!(inline, shared);
        let hasher = std::collections::hash_map::RandomState::new();
        assert_eq!(hasher.hash_one(&inline), hasher.hash_one(&shared));
        assert_ne!(inline, Payload::copy_from_slice(b"other"));
    }

    #[test]
    fn debug_prints_a_byte_string_literal() {
        let payload = Payload::copy_from_slice(b"a\x00\"");
        assert_eq!(format!("{payload:?}"), r#"b"a\x00\"""#);
    }
}
