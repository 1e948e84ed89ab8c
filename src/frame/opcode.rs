//! Frame opcodes (RFC 6455 §5.2, §11.8).

/// The opcode of a frame: what its payload means.
///
/// Only the six opcodes RFC 6455 defines exist here; the reserved values 0x3–0x7 and 0xB–0xF
/// are rejected by [`Opcode::from_u8`] (and so by [`FrameHeader::parse`](super::FrameHeader::parse)).
///
/// ```
/// use wsmachine::frame::Opcode;
///
/// assert_eq!(Opcode::from_u8(0x1), Some(Opcode::Text));
/// assert_eq!(Opcode::from_u8(0x3), None); // reserved for further non-control frames
/// assert!(Opcode::Ping.is_control());
/// assert_eq!(Opcode::Close.as_u8(), 0x8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: a continuation of the message started by an earlier Text or Binary frame.
    Continuation,
    /// 0x1: the first (or only) frame of a text message, UTF-8 encoded.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: a Close control frame (§5.5.1).
    Close,
    /// 0x9: a Ping control frame (§5.5.2).
    Ping,
    /// 0xA: a Pong control frame (§5.5.3).
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit value, or `None` for a reserved value (§5.2: 0x3–0x7, 0xB–0xF)
    /// or a value above 0xF.
    #[must_use]
    pub const fn from_u8(value: u8) -> Option<Opcode> {
        // A table rather than a `match`: the header parser calls this for every frame, and a
        // load does not mispredict when opcodes alternate.
        const BY_VALUE: [Option<Opcode>; 16] = [
            Some(Opcode::Continuation),
            Some(Opcode::Text),
            Some(Opcode::Binary),
            None,
            None,
            None,
            None,
            None,
            Some(Opcode::Close),
            Some(Opcode::Ping),
            Some(Opcode::Pong),
            None,
            None,
            None,
            None,
            None,
        ];
        if value < 16 {
            BY_VALUE[value as usize]
        } else {
            None
        }
    }

    /// The 4-bit wire value.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode (Close, Ping, Pong), which §5.5 limits to unfragmented
    /// frames of at most 125 payload bytes.
    #[must_use]
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }

    /// Whether this opcode starts or continues a data message (Text, Binary, Continuation).
    #[must_use]
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
}
