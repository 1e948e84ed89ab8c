//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §4.1, §4.2.2).

use alloc::string::String;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::random::RandomSource;

/// The GUID §1.3 appends to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The length of a key's base64 text: 16 bytes encode to 24 characters.
const KEY_TEXT_LEN: usize = 24;

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` value: base64 of the SHA-1 of the
/// key followed by the protocol's GUID (§4.2.2, item 5.4).
///
/// ```
/// use wsmachine::handshake::accept_key;
///
/// // The example of RFC 6455 §1.3.
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(ACCEPT_GUID);
    STANDARD.encode(sha1.finalize())
}

/// Whether a `Sec-WebSocket-Key` value is the base64 encoding of exactly 16 bytes (§4.2.1,
/// item 5), with the standard alphabet and padding.
///
/// ```
/// use wsmachine::handshake::is_valid_key;
///
/// assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
/// assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ")); // padding missing
/// assert!(!is_valid_key(b"c2hvcnQ=")); // 5 bytes
/// ```
#[must_use]
pub fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0u8; 18];
    key.len() == KEY_TEXT_LEN && STANDARD.decode_slice(key, &mut decoded) == Ok(16)
}

/// A fresh `Sec-WebSocket-Key`: 16 bytes from `random`, base64-encoded (§4.1, item 7).
///
/// ```
/// use wsmachine::handshake::{generate_key, is_valid_key};
///
/// let mut counter = 0u8;
/// let key = generate_key(&mut |buf: &mut [u8]| {
///     for byte in buf {
///         counter += 1;
///         *byte = counter;
///     }
/// });
/// assert_eq!(key, "AQIDBAUGBwgJCgsMDQ4PEA==");
/// assert!(is_valid_key(key.as_bytes()));
/// ```
pub fn generate_key(random: &mut impl RandomSource) -> String {
    let mut nonce = [0u8; 16];
    random.fill_bytes(&mut nonce);
    STANDARD.encode(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_decode_to_exactly_16_bytes() {
        assert!(is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAA=="));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAA=")); // 17 bytes
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAA")); // 18 bytes
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAA=")); // 23 characters
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAA*==")); // not base64
        assert!(!is_valid_key(b""));
    }
}
