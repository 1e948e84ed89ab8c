//! The frame core: pure, allocation-free building blocks of RFC 6455 §5.
//!
//! Everything here works on borrowed slices and fixed-size values, never allocates and never
//! panics on any input, so it can be benchmarked, fuzzed and reused on its own:
//!
//! - [`FrameHeader::parse`] / [`FrameHeader::encode`]: the header codec, with the receive-side
//!   rules of §5.1, §5.2 and §5.5 configured by [`HeaderRules`];
//! - [`apply_mask`] / [`apply_mask_at`]: payload masking (§5.3), whole or in pieces;
//! - [`CloseCode`] and [`CloseBody`]: close status codes (§7.4) and the Close payload (§5.5.1);
//! - [`Utf8Validator`]: incremental UTF-8 validation for text split over frames (§8.1).
//!
//! Every violation of the protocol is a typed error with a `close_code()` method that names
//! the status code to fail the connection with (§7.1.7).

mod close;
mod header;
mod mask;
mod opcode;
mod rsv;
mod utf8;

pub use close::{CloseBody, CloseBodyError, CloseCode, MAX_CLOSE_REASON_LEN};
pub use header::{
    FrameError, FrameHeader, HeaderRules, DEFAULT_MAX_PAYLOAD_LEN, MAX_HEADER_LEN, MAX_PAYLOAD_LEN,
};
pub(crate) use mask::apply_mask_short;
pub use mask::{apply_mask, apply_mask_at, apply_mask_naive};
pub use opcode::Opcode;
pub use rsv::Rsv;
pub(crate) use utf8::validate_short;
pub use utf8::{Utf8Error, Utf8Validator};

/// The largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD_LEN: usize = 125;

/// The outcome of decoding from input that may not all have arrived yet.
///
/// Running out of input is not an error: the caller keeps the bytes and calls again when more
/// have arrived. `needed` is how many more bytes, at least, a complete result takes, so a caller
/// may wait for that many; a violation can show earlier, and a caller that calls again on every
/// arrival sees it as soon as its bytes are in.
///
/// ```
/// use wsmachine::frame::Status;
///
/// let status: Status<u8> = Status::Incomplete { needed: 2 };
/// assert!(!status.is_complete());
/// assert_eq!(Status::Complete(7).complete(), Some(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// Decoding finished with this value.
    Complete(T),
    /// More input is needed: at least `needed` bytes (always 1 or more).
    Incomplete {
        /// The fewest further bytes after which the result can be complete.
        needed: usize,
    },
}

impl<T> Status<T> {
    /// Whether decoding finished.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// The decoded value, if decoding finished.
    #[must_use]
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(value) => Some(value),
            Status::Incomplete { .. } => None,
        }
    }
}

/// Why a value could not be encoded; these are the caller's mistakes, never the peer's.
///
/// ```
/// use wsmachine::frame::{EncodeError, FrameHeader, Opcode};
///
/// let mut tiny = [0u8; 2];
/// let error = FrameHeader::new(Opcode::Binary, 1000).encode(&mut tiny).unwrap_err();
/// assert_eq!(error, EncodeError::BufferTooSmall { needed: 4 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small.
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// The bytes the encoding takes.
        needed: usize,
    },
    /// The payload is longer than the frame or the field allows.
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLong {
        /// The payload length asked for.
        len: u64,
        /// The most allowed.
        max: u64,
    },
    /// A close code that may not be sent (§7.4): 1004–1006, 1015 or an unassigned one.
    #[error("close code {0} may not be sent")]
    CloseCodeNotAllowed(CloseCode),
}
