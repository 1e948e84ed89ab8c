//! UTF-8 validation of text messages that arrive in pieces (RFC 6455 §5.6, §8.1).
//!
//! A text message may be split over frames and each frame over reads, so a code point can be
//! cut anywhere. [`Utf8Validator`] keeps the bytes of a cut code point between calls and fails
//! as soon as the bytes seen so far can no longer begin valid UTF-8, as Autobahn's "fail fast"
//! cases (6.4.x) expect, rather than only at the end of the message.
//!
//! The bulk of the work is done by `simdutf8`, which validates with SIMD instructions (chosen at
//! run time with the `std` feature) and reports errors exactly as `core::str::from_utf8` does.

use core::fmt;

/// Validates a complete byte string, as [`core::str::from_utf8`] but faster on long input.
pub(crate) fn validate_complete(bytes: &[u8]) -> Result<&str, Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => match simdutf8::compat::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(error) => Err(Utf8Error { valid_up_to: error.valid_up_to(), incomplete: false }),
        },
    }
}

/// Validates a complete byte string that is usually short: below 64 bytes the standard
/// library's validator (which skips ASCII a word at a time) is quicker to start than SIMD.
#[inline]
pub(crate) fn validate_short(bytes: &[u8]) -> Result<&str, ()> {
    if bytes.len() < 64 {
        core::str::from_utf8(bytes).map_err(drop)
    } else {
        simdutf8::basic::from_utf8(bytes).map_err(drop)
    }
}

/// Incremental UTF-8 validation for one text message at a time.
///
/// Feed the payload pieces in order with [`feed`](Utf8Validator::feed) and call
/// [`finish`](Utf8Validator::finish) when the message ends (the frame with FIN). The first
/// error is final: it is reported by the call that made the input certainly invalid, and by
/// every later call until [`reset`](Utf8Validator::reset).
///
/// ```
/// use wsmachine::frame::Utf8Validator;
///
/// let mut validator = Utf8Validator::new();
/// // "€" (E2 82 AC) cut between two frames.
/// validator.feed(b"price: \xE2\x82")?;
/// validator.feed(b"\xAC")?;
/// validator.finish()?;
///
/// // 0xED 0xA0 can only begin a UTF-16 surrogate, so this fails before the message ends.
/// let mut validator = Utf8Validator::new();
/// let error = validator.feed(b"ok \xED\xA0").unwrap_err();
/// assert_eq!(error.valid_up_to(), 3);
/// # Ok::<(), wsmachine::frame::Utf8Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The bytes of a code point cut at the end of the last piece (at most 3 of its 4).
    partial: [u8; 4],
    partial_len: usize,
    /// Bytes of the message before `partial`, all valid.
    valid_len: usize,
    failed: Option<Utf8Error>,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    #[must_use]
    pub const fn new() -> Utf8Validator {
        Utf8Validator { partial: [0; 4], partial_len: 0, valid_len: 0, failed: None }
    }

    /// Forgets everything, ready for the next message.
    pub fn reset(&mut self) {
        *self = Utf8Validator::new();
    }

    /// Whether the input so far ends inside a code point.
    #[must_use]
    pub const fn is_mid_code_point(&self) -> bool {
        self.partial_len != 0
    }

    /// Validates the next piece of the message.
    ///
    /// Returns an error once the bytes fed so far cannot be the start of valid UTF-8, even if
    /// the message has not ended.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.partial_len != 0 {
            bytes = self.complete_partial(bytes)?;
            if self.partial_len != 0 {
                return Ok(());
            }
        }
        match simdutf8::basic::from_utf8(bytes) {
            Ok(_) => {
                self.valid_len += bytes.len();
                Ok(())
            }
            Err(_) => self.feed_slow(bytes),
        }
    }

    /// Ends the message: an error if it stops inside a code point.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.partial_len != 0 {
            return Err(self.fail(Utf8Error { valid_up_to: self.valid_len, incomplete: true }));
        }
        Ok(())
    }

    /// Continues the code point cut at the end of the last piece with the first bytes of
    /// `bytes`, and returns the bytes after it.
    fn complete_partial<'b>(&mut self, bytes: &'b [u8]) -> Result<&'b [u8], Utf8Error> {
        let have = self.partial_len;
        let width = sequence_width(self.partial[0]);
        let take = (width - have).min(bytes.len());
        self.partial[have..have + take].copy_from_slice(&bytes[..take]);
        let filled = have + take;
        match core::str::from_utf8(&self.partial[..filled]) {
            Ok(_) => {
                self.valid_len += filled;
                self.partial_len = 0;
                Ok(&bytes[take..])
            }
            Err(error) if error.error_len().is_none() => {
                // Still a valid prefix; `take` was all of `bytes`.
                self.partial_len = filled;
                Ok(&[])
            }
            Err(_) => Err(self.fail(Utf8Error { valid_up_to: self.valid_len, incomplete: false })),
        }
    }

    /// The path for input that is invalid or ends inside a code point.
    fn feed_slow(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let error = match simdutf8::compat::from_utf8(bytes) {
            Ok(_) => {
                self.valid_len += bytes.len();
                return Ok(());
            }
            Err(error) => error,
        };
        let valid_up_to = error.valid_up_to();
        if error.error_len().is_some() {
            let at = self.valid_len + valid_up_to;
            return Err(self.fail(Utf8Error { valid_up_to: at, incomplete: false }));
        }
        // The input ends with the first 1-3 bytes of a code point that may still be valid.
        let tail = &bytes[valid_up_to..];
        self.partial[..tail.len()].copy_from_slice(tail);
        self.partial_len = tail.len();
        self.valid_len += valid_up_to;
        Ok(())
    }

    fn fail(&mut self, error: Utf8Error) -> Utf8Error {
        self.failed = Some(error);
        error
    }
}

/// The length of the sequence a lead byte begins: 2, 3 or 4 for the lead bytes a partial code
/// point can hold (anything else fails before it is kept).
const fn sequence_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

/// Text that is not valid UTF-8 (§8.1): the connection fails with close code 1007.
///
/// ```
/// use wsmachine::frame::{CloseCode, Utf8Validator};
///
/// let mut validator = Utf8Validator::new();
/// validator.feed(b"caf\xC3")?;
/// let error = validator.finish().unwrap_err();
/// assert!(error.is_incomplete());
/// assert_eq!(error.valid_up_to(), 3);
/// assert_eq!(error.close_code(), CloseCode::INVALID_PAYLOAD);
/// # Ok::<(), wsmachine::frame::Utf8Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    valid_up_to: usize,
    incomplete: bool,
}

impl Utf8Error {
    /// How many bytes from the start of the message are valid UTF-8, as in
    /// [`core::str::Utf8Error::valid_up_to`].
    #[must_use]
    pub const fn valid_up_to(&self) -> usize {
        self.valid_up_to
    }

    /// Whether the message ended inside a code point (rather than containing an invalid
    /// sequence).
    #[must_use]
    pub const fn is_incomplete(&self) -> bool {
        self.incomplete
    }

    /// The code to close with: 1007, invalid frame payload data (§7.4.1).
    #[must_use]
    pub const fn close_code(&self) -> super::CloseCode {
        super::CloseCode::INVALID_PAYLOAD
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.incomplete {
            write!(f, "text ends inside a UTF-8 sequence after byte {}", self.valid_up_to)
        } else {
            write!(f, "invalid UTF-8 after byte {}", self.valid_up_to)
        }
    }
}

impl core::error::Error for Utf8Error {}
