//! The three reserved bits of a frame header (RFC 6455 §5.2).

/// A set of the RSV1, RSV2 and RSV3 bits.
///
/// A frame may carry a reserved bit only when a negotiated extension defines its meaning
/// (§5.2); permessage-deflate (RFC 7692) claims RSV1. [`HeaderRules::allowed_rsv`] says which
/// bits the negotiated extensions claim.
///
/// ```
/// use wsmachine::frame::Rsv;
///
/// let claimed = Rsv::RSV1;
/// assert!(claimed.contains(Rsv::RSV1));
/// assert!(!claimed.contains(Rsv::RSV1.union(Rsv::RSV3)));
/// assert_eq!(Rsv::new(true, false, true).bits(), 0b101);
/// ```
///
/// [`HeaderRules::allowed_rsv`]: super::HeaderRules::allowed_rsv
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rsv(u8);

impl Rsv {
    /// No reserved bit.
    pub const NONE: Rsv = Rsv(0);
    /// RSV1, the bit permessage-deflate uses to mark a compressed message.
    pub const RSV1: Rsv = Rsv(0b100);
    /// RSV2.
    pub const RSV2: Rsv = Rsv(0b010);
    /// RSV3.
    pub const RSV3: Rsv = Rsv(0b001);
    /// All three bits.
    pub const ALL: Rsv = Rsv(0b111);

    /// The set with the given bits.
    #[must_use]
    pub const fn new(rsv1: bool, rsv2: bool, rsv3: bool) -> Rsv {
        Rsv(((rsv1 as u8) << 2) | ((rsv2 as u8) << 1) | (rsv3 as u8))
    }

    /// The set from its three low bits (RSV1 is `0b100`); higher bits are ignored.
    #[must_use]
    pub const fn from_bits_truncate(bits: u8) -> Rsv {
        Rsv(bits & 0b111)
    }

    /// The bits as a number from 0 to 7, RSV1 the most significant.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether RSV1 is set.
    #[must_use]
    pub const fn rsv1(self) -> bool {
        self.0 & 0b100 != 0
    }

    /// Whether RSV2 is set.
    #[must_use]
    pub const fn rsv2(self) -> bool {
        self.0 & 0b010 != 0
    }

    /// Whether RSV3 is set.
    #[must_use]
    pub const fn rsv3(self) -> bool {
        self.0 & 0b001 != 0
    }

    /// Whether no bit is set.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is also in `self`.
    #[must_use]
    pub const fn contains(self, other: Rsv) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits in either set.
    #[must_use]
    pub const fn union(self, other: Rsv) -> Rsv {
        Rsv(self.0 | other.0)
    }

    /// The bits of `self` that are not in `other`.
    #[must_use]
    pub const fn difference(self, other: Rsv) -> Rsv {
        Rsv(self.0 & !other.0)
    }
}
