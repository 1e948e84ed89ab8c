//! Close status codes (RFC 6455 §7.4) and the body of a Close frame (§5.5.1).

use core::fmt;

use super::{EncodeError, MAX_CONTROL_PAYLOAD_LEN};

/// A close status code: why an endpoint closed the connection (RFC 6455 §7.4).
///
/// Any `u16` can be held, because an application may receive one and want to report it; only
/// codes for which [`CloseCode::is_allowed_on_wire`] holds may be sent or accepted in a Close
/// frame. The named constants are the codes of the IANA "WebSocket Close Code Number" registry
/// that §11.7 created.
///
/// ```
/// use wsmachine::frame::CloseCode;
///
/// assert_eq!(CloseCode::from(1000), CloseCode::NORMAL);
/// assert!(CloseCode::MESSAGE_TOO_BIG.is_allowed_on_wire());
/// assert!(!CloseCode::ABNORMAL_CLOSURE.is_allowed_on_wire()); // 1006 is only ever reported locally
/// assert!(CloseCode::from(4000).is_allowed_on_wire()); // private use
/// assert_eq!(CloseCode::PROTOCOL_ERROR.to_string(), "1002 (protocol error)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: the endpoint received a type of data it cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1004: reserved; never sent.
    pub const RESERVED: CloseCode = CloseCode(1004);
    /// 1005: reported locally when a Close frame carried no status code; never sent (§7.1.5).
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006: reported locally when the connection ended without a closing handshake; never
    /// sent (§7.1.5).
    pub const ABNORMAL_CLOSURE: CloseCode = CloseCode(1006);
    /// 1007: a message's data did not match its type, such as invalid UTF-8 in a text message.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected the server to negotiate an extension it did not.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy received an invalid response upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reported locally when the TLS handshake failed; never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The numeric code.
    #[must_use]
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether an endpoint may put this code in a Close frame, and so whether a received one
    /// is valid (§7.4.1, §7.4.2).
    ///
    /// Allowed: the registered codes 1000–1003 and 1007–1014, and 3000–4999 (libraries,
    /// frameworks, applications, private use). Never allowed: 0–999, 1004, the local-only
    /// 1005, 1006 and 1015, the still unassigned rest of 1000–2999, and 5000 and above.
    #[must_use]
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The registry's name for a code from 1000 to 1015, if it has one.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            _ => return None,
        })
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The longest reason a Close frame can carry: 125 payload bytes less the 2-byte code (§5.5).
pub const MAX_CLOSE_REASON_LEN: usize = MAX_CONTROL_PAYLOAD_LEN - 2;

/// The status code and reason carried in a Close frame's payload (§5.5.1).
///
/// An empty payload is also valid and means "no status code"; [`CloseBody::parse`] returns
/// `None` for it, which an application reports as [`CloseCode::NO_STATUS_RECEIVED`].
///
/// ```
/// use wsmachine::frame::{CloseBody, CloseCode};
///
/// let mut buf = [0u8; 125];
/// let body = CloseBody::new(CloseCode::GOING_AWAY, "restarting")?;
/// let len = body.encode(&mut buf)?;
/// assert_eq!(&buf[..4], &[0x03, 0xE9, b'r', b'e']);
///
/// assert_eq!(CloseBody::parse(&buf[..len])?, Some(body));
/// assert_eq!(CloseBody::parse(&[])?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseBody<'a> {
    code: CloseCode,
    reason: &'a str,
}

impl<'a> CloseBody<'a> {
    /// A body to send: `code` must be allowed on the wire and `reason` at most
    /// [`MAX_CLOSE_REASON_LEN`] bytes, so that the frame fits the control-frame limit.
    pub fn new(code: CloseCode, reason: &'a str) -> Result<CloseBody<'a>, EncodeError> {
        if !code.is_allowed_on_wire() {
            return Err(EncodeError::CloseCodeNotAllowed(code));
        }
        if reason.len() > MAX_CLOSE_REASON_LEN {
            return Err(EncodeError::PayloadTooLong {
                len: reason.len() as u64 + 2,
                max: MAX_CONTROL_PAYLOAD_LEN as u64,
            });
        }
        Ok(CloseBody { code, reason })
    }

    /// Reads a received Close payload (already unmasked): `None` when it is empty, otherwise
    /// the code and reason, rejected when the payload is a lone byte, longer than 125 bytes,
    /// carries a code not allowed on the wire (all close with 1002) or a reason that is not
    /// UTF-8 (closes with 1007, §8.1).
    pub fn parse(payload: &'a [u8]) -> Result<Option<CloseBody<'a>>, CloseBodyError> {
        let (code, reason) = match payload {
            [] => return Ok(None),
            [_] => return Err(CloseBodyError::Truncated),
            [hi, lo, reason @ ..] => (CloseCode(u16::from_be_bytes([*hi, *lo])), reason),
        };
        if payload.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(CloseBodyError::TooLong { len: payload.len() });
        }
        if !code.is_allowed_on_wire() {
            return Err(CloseBodyError::CodeNotAllowed(code));
        }
        let reason = super::utf8::validate_complete(reason)
            .map_err(|error| CloseBodyError::ReasonNotUtf8 { valid_up_to: error.valid_up_to() })?;
        Ok(Some(CloseBody { code, reason }))
    }

    /// The status code.
    #[must_use]
    pub const fn code(&self) -> CloseCode {
        self.code
    }

    /// The reason, possibly empty.
    #[must_use]
    pub const fn reason(&self) -> &'a str {
        self.reason
    }

    /// The payload length: 2 bytes of code plus the reason.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        2 + self.reason.len()
    }

    /// Writes the payload (code in network byte order, then the reason) to the front of `buf`
    /// and returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.encoded_len();
        let out = buf.get_mut(..len).ok_or(EncodeError::BufferTooSmall { needed: len })?;
        out[..2].copy_from_slice(&self.code.0.to_be_bytes());
        out[2..].copy_from_slice(self.reason.as_bytes());
        Ok(len)
    }
}

/// Why a received Close payload is invalid; each knows the close code to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseBodyError {
    /// One byte: too short for a status code (§5.5.1).
    #[error("close frame payload of 1 byte cannot hold a status code")]
    Truncated,
    /// Over 125 bytes, the limit of every control frame (§5.5).
    #[error("close frame payload of {len} bytes exceeds 125")]
    TooLong {
        /// The payload length.
        len: usize,
    },
    /// A status code no endpoint may send (§7.4).
    #[error("close code {0} may not appear in a close frame")]
    CodeNotAllowed(CloseCode),
    /// The reason is not valid UTF-8 (§5.5.1, §8.1).
    #[error("close reason is not valid UTF-8 (valid up to byte {valid_up_to})")]
    ReasonNotUtf8 {
        /// How many bytes of the reason are valid UTF-8.
        valid_up_to: usize,
    },
}

impl CloseBodyError {
    /// The code to close the connection with: 1007 for a non-UTF-8 reason, 1002 otherwise.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CloseBodyError::ReasonNotUtf8 { .. } => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_rules_follow_section_7_4() {
        let allowed: [u16; 14] =
            [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
        for code in allowed {
            assert!(CloseCode::from(code).is_allowed_on_wire(), "{code}");
        }
        let forbidden: [u16; 12] =
            [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
        for code in forbidden {
            assert!(!CloseCode::from(code).is_allowed_on_wire(), "{code}");
        }
    }

    #[test]
    fn parse_rejects_each_invalid_payload_with_its_close_code() {
        let one_byte = CloseBody::parse(&[0x03]).unwrap_err();
        assert_eq!(one_byte, CloseBodyError::Truncated);
        assert_eq!(one_byte.close_code(), CloseCode::PROTOCOL_ERROR);

        let reserved = CloseBody::parse(&1005u16.to_be_bytes()).unwrap_err();
        assert_eq!(reserved, CloseBodyError::CodeNotAllowed(CloseCode::NO_STATUS_RECEIVED));
        assert_eq!(reserved.close_code(), CloseCode::PROTOCOL_ERROR);

        let bad_reason = CloseBody::parse(&[0x03, 0xE8, b'o', b'k', 0xFF]).unwrap_err();
        assert_eq!(bad_reason, CloseBodyError::ReasonNotUtf8 { valid_up_to: 2 });
        assert_eq!(bad_reason.close_code(), CloseCode::INVALID_PAYLOAD);

        let mut long = [b'a'; 126];
        long[..2].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(CloseBody::parse(&long), Err(CloseBodyError::TooLong { len: 126 }));
        assert!(CloseBody::parse(&long[..125]).is_ok());
    }

    #[test]
    fn new_refuses_what_cannot_be_sent() {
        assert_eq!(
            CloseBody::new(CloseCode::ABNORMAL_CLOSURE, ""),
            Err(EncodeError::CloseCodeNotAllowed(CloseCode::ABNORMAL_CLOSURE))
        );
        let reason = "x".repeat(MAX_CLOSE_REASON_LEN + 1);
        assert_eq!(
            CloseBody::new(CloseCode::NORMAL, &reason),
            Err(EncodeError::PayloadTooLong { len: 126, max: 125 })
        );
        let reason = "x".repeat(MAX_CLOSE_REASON_LEN);
        let body = CloseBody::new(CloseCode::NORMAL, &reason).unwrap();
        let mut small = [0u8; 10];
        assert_eq!(body.encode(&mut small), Err(EncodeError::BufferTooSmall { needed: 125 }));
    }
}
