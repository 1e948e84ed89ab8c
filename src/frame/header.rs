//! The frame header: decode from received bytes, encode into a caller's buffer (RFC 6455 §5.2).

use super::{CloseCode, EncodeError, Opcode, Rsv, Status, MAX_CONTROL_PAYLOAD_LEN};
use crate::Role;

/// The longest header: 2 fixed bytes, an 8-byte extended length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload length a header can carry: the 64-bit length's top bit must be 0 (§5.2).
pub const MAX_PAYLOAD_LEN: u64 = i64::MAX as u64;

/// The default [`HeaderRules::max_payload_len`]: 16 MiB.
pub const DEFAULT_MAX_PAYLOAD_LEN: u64 = 16 << 20;

/// The fields of a frame header (§5.2), without the payload.
///
/// ```
/// use wsmachine::frame::{FrameHeader, HeaderRules, Opcode, Status};
/// use wsmachine::Role;
///
/// // RFC 6455 §5.7: a single-frame masked text message containing "Hello".
/// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let rules = HeaderRules::new(Role::Server);
/// let Status::Complete((header, header_len)) = FrameHeader::parse(&bytes, &rules)? else {
///     panic!("the header is complete");
/// };
/// assert_eq!(header_len, 6);
/// assert_eq!(header.opcode, Opcode::Text);
/// assert!(header.fin);
/// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
/// assert_eq!(header.payload_len, 5);
///
/// let mut out = [0u8; 14];
/// assert_eq!(header.encode(&mut out)?, 6);
/// assert_eq!(out[..6], bytes[..6]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Whether this is the final frame of its message.
    pub fin: bool,
    /// The reserved bits; nonzero only where an extension defines them.
    pub rsv: Rsv,
    /// What the payload is.
    pub opcode: Opcode,
    /// The masking key: present exactly on frames sent by a client (§5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// What a received header must satisfy, beyond the fixed rules of §5.2.
///
/// Start from [`HeaderRules::new`] with the *receiving* endpoint's role and adjust the fields:
///
/// ```
/// use wsmachine::frame::{HeaderRules, Rsv};
/// use wsmachine::Role;
///
/// let mut rules = HeaderRules::new(Role::Server);
/// rules.allowed_rsv = Rsv::RSV1; // permessage-deflate was negotiated
/// rules.max_payload_len = 1 << 20;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderRules {
    /// The role of the endpoint receiving the frames: a server requires masked frames, a
    /// client rejects them (§5.1).
    pub role: Role,
    /// The RSV bits the negotiated extensions define; any other set bit fails (§5.2).
    pub allowed_rsv: Rsv,
    /// The largest payload accepted; a longer frame fails with [`FrameError::FrameTooLarge`]
    /// (close code 1009) as soon as its length is read.
    pub max_payload_len: u64,
    /// Whether to accept a length written in a longer form than needed (say, 5 in the 16-bit
    /// form). §5.2 says the minimal form MUST be used, so by default such a header fails with
    /// [`FrameError::NonMinimalLength`]; turn this on to tolerate peers that get it wrong.
    pub allow_non_minimal_length: bool,
}

impl HeaderRules {
    /// The rules for an endpoint of `role`: no RSV bits, payloads up to
    /// [`DEFAULT_MAX_PAYLOAD_LEN`], minimal length encodings only.
    #[must_use]
    pub const fn new(role: Role) -> HeaderRules {
        HeaderRules {
            role,
            allowed_rsv: Rsv::NONE,
            max_payload_len: DEFAULT_MAX_PAYLOAD_LEN,
            allow_non_minimal_length: false,
        }
    }
}

impl FrameHeader {
    /// A final, unmasked header without RSV bits: the common case, adjusted with the `with_`
    /// methods.
    ///
    /// ```
    /// use wsmachine::frame::{FrameHeader, Opcode};
    ///
    /// let header = FrameHeader::new(Opcode::Binary, 300).with_fin(false).with_mask([1, 2, 3, 4]);
    /// assert_eq!(header.encoded_len(), 8);
    /// ```
    #[must_use]
    pub const fn new(opcode: Opcode, payload_len: u64) -> FrameHeader {
        FrameHeader { fin: true, rsv: Rsv::NONE, opcode, mask: None, payload_len }
    }

    /// The header with its FIN bit set to `fin`.
    #[must_use]
    pub const fn with_fin(mut self, fin: bool) -> FrameHeader {
        self.fin = fin;
        self
    }

    /// The header with the given reserved bits.
    #[must_use]
    pub const fn with_rsv(mut self, rsv: Rsv) -> FrameHeader {
        self.rsv = rsv;
        self
    }

    /// The header with a masking key, as a client sends.
    #[must_use]
    pub const fn with_mask(mut self, key: [u8; 4]) -> FrameHeader {
        self.mask = Some(key);
        self
    }

    /// Decodes the header at the start of `buf`.
    ///
    /// Returns the header and its length in bytes, or [`Status::Incomplete`] with how many
    /// more bytes the rest of the header takes at least; a violation fails as soon as the bytes
    /// that show it are present, without waiting for the rest of the header. Never panics, whatever `buf` holds.
    ///
    /// Checked, each with its own [`FrameError`]: the opcode is not reserved and the RSV bits
    /// are allowed (§5.2); control frames are final and at most 125 bytes (§5.5); the mask bit
    /// matches the receiver's role (§5.1); a 64-bit length has its top bit clear and every
    /// length uses the minimal form (§5.2) unless the rules allow otherwise; the length is at
    /// most the rules' maximum.
    ///
    /// ```
    /// use wsmachine::frame::{CloseCode, FrameError, FrameHeader, HeaderRules, Status};
    /// use wsmachine::Role;
    ///
    /// let rules = HeaderRules::new(Role::Client);
    /// // One byte of a header: at least one more is needed.
    /// assert_eq!(FrameHeader::parse(&[0x82], &rules)?, Status::Incomplete { needed: 1 });
    /// // A 16-bit length whose bytes have not arrived yet.
    /// assert_eq!(FrameHeader::parse(&[0x82, 126], &rules)?, Status::Incomplete { needed: 2 });
    /// // Reserved opcode 0x3, seen in the first byte.
    /// let error = FrameHeader::parse(&[0x83], &rules).unwrap_err();
    /// assert_eq!(error, FrameError::ReservedOpcode(0x3));
    /// assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
    /// # Ok::<(), FrameError>(())
    /// ```
    pub fn parse(
        buf: &[u8],
        rules: &HeaderRules,
    ) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        let Some(&first) = buf.first() else {
            return Ok(Status::Incomplete { needed: 2 });
        };
        let fin = first & 0x80 != 0;
        let rsv = Rsv::from_bits_truncate(first >> 4);
        let opcode_bits = first & 0x0F;
        let opcode = Opcode::from_u8(opcode_bits).ok_or(FrameError::ReservedOpcode(opcode_bits))?;
        if !rules.allowed_rsv.contains(rsv) {
            return Err(FrameError::ReservedBitsSet { rsv: rsv.difference(rules.allowed_rsv) });
        }
        // Bitwise `&` rather than `&&` in these checks: a single branch that is never taken
        // for valid input, where a short circuit would branch on the opcode of every frame.
        let control = opcode.is_control();
        if control & !fin {
            return Err(FrameError::FragmentedControlFrame { opcode });
        }

        let Some(&second) = buf.get(1) else {
            return Ok(Status::Incomplete { needed: 1 });
        };
        let masked = second & 0x80 != 0;
        if masked != rules.role.expects_masked_frames() {
            return Err(if masked { FrameError::MaskedFrame } else { FrameError::UnmaskedFrame });
        }
        let length_code = second & 0x7F;
        let length_end: usize = match length_code {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        let header_len = length_end + if masked { 4 } else { 0 };
        let incomplete = Status::Incomplete { needed: header_len.saturating_sub(buf.len()) };
        let payload_len = match (length_code, buf.get(2..length_end)) {
            (126, Some(&[a, b])) => {
                check_minimal(u64::from(u16::from_be_bytes([a, b])), 126, 2, rules)?
            }
            (127, Some(&[a, b, c, d, e, f, g, h])) => {
                let len = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
                if len > MAX_PAYLOAD_LEN {
                    return Err(FrameError::LengthHighBitSet);
                }
                check_minimal(len, 0x1_0000, 8, rules)?
            }
            (126 | 127, _) => return Ok(incomplete),
            (short, _) => u64::from(short),
        };
        if control & (payload_len > MAX_CONTROL_PAYLOAD_LEN as u64) {
            return Err(FrameError::ControlFrameTooLong { opcode, len: payload_len });
        }
        if payload_len > rules.max_payload_len {
            return Err(FrameError::FrameTooLarge { len: payload_len, max: rules.max_payload_len });
        }

        let mask = if masked {
            match buf.get(length_end..header_len) {
                Some(&[a, b, c, d]) => Some([a, b, c, d]),
                _ => return Ok(incomplete),
            }
        } else {
            None
        };
        Ok(Status::Complete((FrameHeader { fin, rsv, opcode, mask, payload_len }, header_len)))
    }

    /// The number of bytes [`encode`](FrameHeader::encode) writes: 2, plus 2 or 8 for a
    /// length over 125 or over 65,535, plus 4 for a masking key.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        let length = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        length + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header to the front of `buf` with the minimal length form and returns the
    /// number of bytes written.
    ///
    /// Fails if `buf` is shorter than [`encoded_len`](FrameHeader::encoded_len) (at most
    /// [`MAX_HEADER_LEN`]) or the length exceeds [`MAX_PAYLOAD_LEN`]. It writes whatever the
    /// header says; keeping control frames short and final is the sender's job.
    ///
    /// ```
    /// use wsmachine::frame::{FrameHeader, Opcode};
    ///
    /// // RFC 6455 §5.7: "256 bytes binary message in a single unmasked frame".
    /// let mut buf = [0u8; 14];
    /// let len = FrameHeader::new(Opcode::Binary, 256).encode(&mut buf)?;
    /// assert_eq!(&buf[..len], &[0x82, 0x7E, 0x01, 0x00]);
    /// # Ok::<(), wsmachine::frame::EncodeError>(())
    /// ```
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if self.payload_len > MAX_PAYLOAD_LEN {
            return Err(EncodeError::PayloadTooLong {
                len: self.payload_len,
                max: MAX_PAYLOAD_LEN,
            });
        }
        let len = self.encoded_len();
        let out = buf.get_mut(..len).ok_or(EncodeError::BufferTooSmall { needed: len })?;
        out[0] = (u8::from(self.fin) << 7) | (self.rsv.bits() << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let length_end = match self.payload_len {
            // The match arms bound each value, so the narrowing casts below are exact.
            #[allow(clippy::cast_possible_truncation)]
            short @ 0..=125 => {
                out[1] = mask_bit | short as u8;
                2
            }
            #[allow(clippy::cast_possible_truncation)]
            medium @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(medium as u16).to_be_bytes());
                4
            }
            long => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&long.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[length_end..length_end + 4].copy_from_slice(&key);
        }
        Ok(len)
    }
}

/// Passes `len` unless it fits a shorter length form than the `length_bytes`-byte one it came
/// in (the shortest length that needs this form is `smallest_for_form`) and the rules insist on
/// minimal encodings.
fn check_minimal(
    len: u64,
    smallest_for_form: u64,
    length_bytes: u8,
    rules: &HeaderRules,
) -> Result<u64, FrameError> {
    if len < smallest_for_form && !rules.allow_non_minimal_length {
        return Err(FrameError::NonMinimalLength { len, length_bytes });
    }
    Ok(len)
}

/// A received header that breaks RFC 6455; each knows the close code to fail the connection
/// with (§7.1.7).
///
/// ```
/// use wsmachine::frame::{CloseCode, FrameError, FrameHeader, HeaderRules};
/// use wsmachine::Role;
///
/// let mut rules = HeaderRules::new(Role::Client);
/// rules.max_payload_len = 1024;
/// let error = FrameHeader::parse(&[0x82, 126, 0x10, 0x00], &rules).unwrap_err();
/// assert_eq!(error, FrameError::FrameTooLarge { len: 4096, max: 1024 });
/// assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// An opcode reserved for future use, 0x3–0x7 or 0xB–0xF (§5.2).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// RSV bits set that no negotiated extension defines (§5.2); holds the offending bits.
    #[error("reserved bits {:#05b} set without an extension that defines them", rsv.bits())]
    ReservedBitsSet {
        /// The bits set but not allowed.
        rsv: Rsv,
    },
    /// A control frame without FIN: control frames cannot be fragmented (§5.5).
    #[error("fragmented {opcode:?} control frame")]
    FragmentedControlFrame {
        /// The control opcode.
        opcode: Opcode,
    },
    /// A control frame with more than 125 payload bytes (§5.5).
    #[error("{opcode:?} control frame of {len} bytes exceeds 125")]
    ControlFrameTooLong {
        /// The control opcode.
        opcode: Opcode,
        /// The payload length the header declared.
        len: u64,
    },
    /// A server received an unmasked frame (§5.1).
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A client received a masked frame (§5.1).
    #[error("masked frame from a server")]
    MaskedFrame,
    /// A 64-bit payload length with its most significant bit set (§5.2).
    #[error("64-bit payload length with the most significant bit set")]
    LengthHighBitSet,
    /// A length written in a longer form than its value needs (§5.2: "the minimal number of
    /// bytes MUST be used").
    #[error("payload length {len} encoded in {length_bytes} bytes instead of the minimal form")]
    NonMinimalLength {
        /// The payload length.
        len: u64,
        /// The size of the extended length field that carried it: 2 or 8.
        length_bytes: u8,
    },
    /// A payload longer than the configured maximum.
    #[error("frame payload of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The payload length the header declared.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
}

impl FrameError {
    /// The code to close the connection with: 1009 (message too big) for a frame over the
    /// configured limit, 1002 (protocol error) for every other violation.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        match self {
            FrameError::FrameTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}
