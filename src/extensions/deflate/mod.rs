//! permessage-deflate (RFC 7692): negotiating its parameters in the opening handshake.
//!
//! A client offers the extension, possibly several times with different parameters, in order
//! of preference; the server accepts the first offer it can honour and answers with the
//! parameters that then apply (§5). Offers with unknown, repeated or invalid parameters are
//! declined, and a client fails the connection on a response that breaks §7.
//!
//! [`DeflateConfig`] and [`DeflateParams`] decide the parameters; [`MessageCompressor`] and
//! [`MessageDecompressor`] apply them to one message at a time. A
//! [`Connection`](crate::Connection) whose [`Config::deflate`](crate::Config::deflate) is set
//! does all of this itself: it offers or accepts the extension in the handshake, compresses
//! outgoing messages (RSV1 on their first frame, §6), and inflates incoming ones within
//! [`Config::max_message_len`](crate::Config::max_message_len).

mod codec;
mod quick;
mod small_inflate;
mod tables;

pub use codec::{
    CompressorSettings, InflateError, Inflated, MessageCompressor, MessageDecompressor,
};

use alloc::string::ToString;

use crate::handshake::{Extension, ExtensionParam};

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The parameters in force once negotiated (RFC 7692 §7.1): whether each side resets its
/// compression context after every message, and the LZ77 window each side compresses with.
///
/// ```
/// use wsmachine::extensions::deflate::{DeflateConfig, DeflateParams};
/// use wsmachine::handshake::parse_extensions;
///
/// // A browser's usual offer, and a server that keeps no context to save memory.
/// let offers = parse_extensions([&b"permessage-deflate; client_max_window_bits"[..]])?;
/// let mut config = DeflateConfig::default();
/// config.server_no_context_takeover = true;
/// let (response, params) = config.accept(&offers).expect("the offer is valid");
/// assert_eq!(response.to_string(), "permessage-deflate; server_no_context_takeover");
/// assert!(params.server_no_context_takeover);
/// assert_eq!(params.client_max_window_bits, 15);
///
/// // The client checks the response against what it offered.
/// let offer = DeflateConfig::default().offer();
/// assert_eq!(DeflateParams::from_response(&response, &offer), Ok(params));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^this bytes (8–15).
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^this bytes (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// One side's preferences: what a client offers, or what a server asks for when it accepts.
///
/// ```
/// use wsmachine::extensions::deflate::DeflateConfig;
///
/// let mut config = DeflateConfig::default();
/// config.client_no_context_takeover = true;
/// config.server_max_window_bits = 10;
/// assert_eq!(
///     config.offer().to_string(),
///     "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; \
///      client_max_window_bits"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Ask that the server reset its context after each message: worse compression, and
    /// much less memory on the server, whose connections then compress whole messages with
    /// their thread's shared compressor and hold none of their own (134 to 371 KiB each
    /// otherwise, by window and memory level).
    pub server_no_context_takeover: bool,
    /// Ask that the client reset its context after each message (for a client, the same
    /// saving as the server's counterpart).
    pub client_no_context_takeover: bool,
    /// The largest window the server may use, 8–15 (15 asks nothing).
    pub server_max_window_bits: u8,
    /// The largest window the client may use, 8–15 (15 asks nothing).
    pub client_max_window_bits: u8,
    /// Messages shorter than this are sent uncompressed by
    /// [`Sender::send_text`](crate::Sender::send_text) and
    /// [`send_binary`](crate::Sender::send_binary): a few bytes gain nothing from deflate
    /// and cost a compressor call. Default 0: every message is compressed, as browsers do.
    /// [`Sender::send_message`](crate::Sender::send_message) decides per message.
    pub compression_threshold: usize,
    /// zlib's compression level (0–9) for this side's messages. `None` (the default) picks
    /// by context: 1 where context is kept (fixed codes: on short messages about 12 times the
    /// speed of level 6 for 6 to 9 points less saved, docs/benchmarks.md), 6 where it is not
    /// (a lone short message gains almost nothing from fixed codes).
    pub compression_level: Option<u8>,
    /// zlib's memory level (1–9) for this side's compressor: 8 (the default) is zlib's, 1
    /// the smallest. It sizes buffers, not the window.
    pub memory_level: u8,
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compression_threshold: 0,
            compression_level: None,
            memory_level: 8,
        }
    }
}

/// Named settings from the most compression to the least memory, for
/// [`DeflateConfig::preset`]. Memory is a server connection's after traffic both ways
/// (docs/benchmarks.md has the figures and the bytes each saves).
///
/// ```
/// use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
///
/// let preset: DeflatePreset = "small".parse()?;
/// let config = DeflateConfig::preset(preset);
/// assert_eq!((config.server_max_window_bits, config.memory_level), (12, 3));
/// assert_eq!(preset.name(), "small");
/// # Ok::<(), wsmachine::extensions::deflate::UnknownPreset>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeflatePreset {
    /// 32 KiB windows both ways, memory level 8: the most compression, about 180 KB a
    /// connection once its history is full.
    Default,
    /// 4 KiB windows, memory level 5 (python-websockets' defaults): about 22 KB.
    Balanced,
    /// 4 KiB windows, memory level 3 (a quarter of `balanced`'s compressor table): about
    /// 16 KB.
    Small,
    /// 2 KiB windows, memory level 3: about 10 KB, and 88–94% of the default's saving on
    /// short JSON messages. Smaller windows and tables save a few KB more and lose much more
    /// (9-bit windows at memory level 1: 4 KB, 66–79%), so no preset goes there; a
    /// `DeflateConfig` can.
    Smallest,
    /// No context kept in either direction: this side compresses every message with its
    /// thread's shared compressor and inflates it with its thread's spare inflater, and holds
    /// neither between messages (about 2 KB with traffic, 1 KB idle). The least memory, and
    /// the least compression on short messages.
    Shared,
}

impl DeflatePreset {
    /// Every preset, from the most compression to the least memory.
    pub const ALL: [DeflatePreset; 5] = [
        DeflatePreset::Default,
        DeflatePreset::Balanced,
        DeflatePreset::Small,
        DeflatePreset::Smallest,
        DeflatePreset::Shared,
    ];

    /// The preset's name, as [`FromStr`](core::str::FromStr) takes it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DeflatePreset::Default => "default",
            DeflatePreset::Balanced => "balanced",
            DeflatePreset::Small => "small",
            DeflatePreset::Smallest => "smallest",
            DeflatePreset::Shared => "shared",
        }
    }
}

impl core::fmt::Display for DeflatePreset {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for DeflatePreset {
    type Err = UnknownPreset;

    fn from_str(name: &str) -> Result<DeflatePreset, UnknownPreset> {
        DeflatePreset::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(name))
            .ok_or(UnknownPreset)
    }
}

/// A name that is not one of [`DeflatePreset::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown permessage-deflate preset (known: default, balanced, small, smallest, shared)")]
pub struct UnknownPreset;

impl DeflateConfig {
    /// The configuration of a [`DeflatePreset`]: the windows this side asks for (§7.1.2)
    /// and uses, and its compressor's memory level. A window the peer limits further is
    /// honoured; a client offers the windows, a server asks for them where the offer lets it.
    #[must_use]
    pub fn preset(preset: DeflatePreset) -> DeflateConfig {
        let (window_bits, memory_level, no_context_takeover) = match preset {
            DeflatePreset::Default => (15, 8, false),
            DeflatePreset::Balanced => (12, 5, false),
            DeflatePreset::Small => (12, 3, false),
            DeflatePreset::Smallest => (11, 3, false),
            DeflatePreset::Shared => (15, 8, true),
        };
        DeflateConfig {
            server_no_context_takeover: no_context_takeover,
            client_no_context_takeover: no_context_takeover,
            server_max_window_bits: window_bits,
            client_max_window_bits: window_bits,
            memory_level,
            ..DeflateConfig::default()
        }
    }

    /// The level and memory level this side compresses with, for a direction that keeps
    /// its context or not (see [`compression_level`](Self::compression_level)).
    #[must_use]
    pub fn compressor_settings(&self, no_context_takeover: bool) -> CompressorSettings {
        let automatic = if no_context_takeover { 6 } else { 1 };
        CompressorSettings {
            level: self.compression_level.unwrap_or(automatic),
            memory_level: self.memory_level,
        }
    }

    /// The client's offer (§5.1): the parameters asked for, and a bare
    /// `client_max_window_bits` (meaning "you may limit my window") when no limit is asked.
    #[must_use]
    pub fn offer(&self) -> Extension {
        let mut params = alloc::vec::Vec::new();
        if self.server_no_context_takeover {
            params.push((SERVER_NO_CONTEXT_TAKEOVER, None));
        }
        if self.client_no_context_takeover {
            params.push((CLIENT_NO_CONTEXT_TAKEOVER, None));
        }
        let server_bits = self.server_max_window_bits.clamp(8, 15);
        let client_bits = self.client_max_window_bits.clamp(8, 15);
        let server_value = server_bits.to_string();
        if server_bits < 15 {
            params.push((SERVER_MAX_WINDOW_BITS, Some(server_value.as_str())));
        }
        let client_value = client_bits.to_string();
        params.push((CLIENT_MAX_WINDOW_BITS, (client_bits < 15).then_some(client_value.as_str())));
        build(&params)
    }

    /// The server's choice (§5, §7.1): the first valid offer among `extensions`, answered
    /// with this configuration's wishes where the offer allows them. Returns the extension to
    /// put in the response and the parameters in force, or `None` to decline (no offer, or
    /// every offer invalid).
    #[must_use]
    pub fn accept(&self, extensions: &[Extension]) -> Option<(Extension, DeflateParams)> {
        extensions
            .iter()
            .filter(|extension| extension.name().eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|extension| Offer::parse(extension).ok())
            .map(|offer| self.answer(&offer))
    }

    fn answer(&self, offer: &Offer) -> (Extension, DeflateParams) {
        let server_bits = self
            .server_max_window_bits
            .clamp(8, 15)
            .min(offer.server_max_window_bits.unwrap_or(15));
        // The client's window can be limited only if it said it supports the parameter.
        let client_bits = match offer.client_max_window_bits {
            Some(offered) => self.client_max_window_bits.clamp(8, 15).min(offered.unwrap_or(15)),
            None => 15,
        };
        let params = DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        let server_value = server_bits.to_string();
        let client_value = client_bits.to_string();
        let mut response = alloc::vec::Vec::new();
        if params.server_no_context_takeover {
            response.push((SERVER_NO_CONTEXT_TAKEOVER, None));
        }
        if params.client_no_context_takeover {
            response.push((CLIENT_NO_CONTEXT_TAKEOVER, None));
        }
        if server_bits < 15 || offer.server_max_window_bits.is_some() {
            response.push((SERVER_MAX_WINDOW_BITS, Some(server_value.as_str())));
        }
        if client_bits < 15 {
            response.push((CLIENT_MAX_WINDOW_BITS, Some(client_value.as_str())));
        }
        (build(&response), params)
    }
}

impl DeflateParams {
    /// The parameters a negotiated extension (the server's response) puts in force, without
    /// an offer to check it against: what [`Connection::open`](crate::Connection::open) uses
    /// after a handshake done elsewhere.
    ///
    /// ```
    /// use wsmachine::extensions::deflate::DeflateParams;
    /// use wsmachine::handshake::parse_extensions;
    ///
    /// let response = parse_extensions([&b"permessage-deflate; client_max_window_bits=10"[..]])?;
    /// let params = DeflateParams::from_negotiated(&response[0])?;
    /// assert_eq!(params.client_max_window_bits, 10);
    /// assert_eq!(params.server_max_window_bits, 15);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_negotiated(response: &Extension) -> Result<DeflateParams, DeflateError> {
        Offer::parse_response(response)?.params()
    }

    /// The client's check of the server's response against its offer (§7.1): every parameter
    /// known, none repeated, values 8–15, `client_max_window_bits` only if offered, and no
    /// window larger than asked.
    pub fn from_response(
        response: &Extension,
        offer: &Extension,
    ) -> Result<DeflateParams, DeflateError> {
        let answer = Offer::parse_response(response)?;
        let client_limited = answer.client_max_window_bits.is_some();
        let params = answer.params()?;
        let offer = Offer::parse(offer)?;
        // The server may limit the client's window only if the offer allowed it (§7.1.2.2).
        let client_allowed = !client_limited
            || offer
                .client_max_window_bits
                .is_some_and(|offered| params.client_max_window_bits <= offered.unwrap_or(15));
        let server_allowed =
            params.server_max_window_bits <= offer.server_max_window_bits.unwrap_or(15);
        // A client that asked for no context takeover must get it (§7.1.1.1).
        let takeover_allowed =
            !offer.server_no_context_takeover || params.server_no_context_takeover;
        if client_allowed && server_allowed && takeover_allowed {
            // An offer's client_no_context_takeover promises it, whatever the response says
            // (§7.1.1.2).
            let client_no_context_takeover =
                params.client_no_context_takeover || offer.client_no_context_takeover;
            Ok(DeflateParams { client_no_context_takeover, ..params })
        } else {
            Err(DeflateError::NotOffered)
        }
    }
}

/// One offer or response, its parameters checked for §7's syntax.
#[derive(Debug, Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)` for the bare parameter.
    client_max_window_bits: Option<Option<u8>>,
}

impl Offer {
    /// A response: named permessage-deflate, with §7's syntax.
    fn parse_response(response: &Extension) -> Result<Offer, DeflateError> {
        if !response.name().eq_ignore_ascii_case(EXTENSION_NAME) {
            return Err(DeflateError::UnknownParameter);
        }
        Offer::parse(response)
    }

    /// The parameters a response puts in force; a bare `client_max_window_bits` is valid only
    /// in an offer.
    fn params(&self) -> Result<DeflateParams, DeflateError> {
        let client_max_window_bits = match self.client_max_window_bits {
            None => 15,
            Some(None) => return Err(DeflateError::InvalidWindowBits),
            Some(Some(bits)) => bits,
        };
        Ok(DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: self.server_max_window_bits.unwrap_or(15),
            client_max_window_bits,
        })
    }

    fn parse(extension: &Extension) -> Result<Offer, DeflateError> {
        let mut offer = Offer::default();
        let mut seen = [false; 4];
        for param in extension.params() {
            let index = match param.name().to_ascii_lowercase().as_str() {
                SERVER_NO_CONTEXT_TAKEOVER => 0,
                CLIENT_NO_CONTEXT_TAKEOVER => 1,
                SERVER_MAX_WINDOW_BITS => 2,
                CLIENT_MAX_WINDOW_BITS => 3,
                _ => return Err(DeflateError::UnknownParameter),
            };
            if core::mem::replace(&mut seen[index], true) {
                return Err(DeflateError::DuplicateParameter);
            }
            match index {
                0 | 1 if param.value().is_some() => return Err(DeflateError::UnexpectedValue),
                0 => offer.server_no_context_takeover = true,
                1 => offer.client_no_context_takeover = true,
                2 => {
                    offer.server_max_window_bits =
                        Some(window_bits(param)?.ok_or(DeflateError::InvalidWindowBits)?)
                }
                _ => offer.client_max_window_bits = Some(window_bits(param)?),
            }
        }
        Ok(offer)
    }
}

/// A window-bits value: absent, or a decimal 8–15 without leading zeros (§7.1.2).
fn window_bits(param: &ExtensionParam) -> Result<Option<u8>, DeflateError> {
    let Some(value) = param.value() else { return Ok(None) };
    match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => {
            value.parse().map(Some).map_err(|_| DeflateError::InvalidWindowBits)
        }
        _ => Err(DeflateError::InvalidWindowBits),
    }
}

/// The client's check of a whole response: at most one permessage-deflate (§5), matching
/// one of the offers (§7.1). Returns the parameters in force, if it was accepted.
pub(crate) fn check_response(
    response: &[Extension],
    offers: &[Extension],
) -> Result<Option<DeflateParams>, DeflateError> {
    let Some(accepted) = single(response)? else { return Ok(None) };
    // The first offer the response fits; otherwise the error against the last one.
    let mut result = Err(DeflateError::NotOffered);
    for offer in offers.iter().filter(|o| o.name().eq_ignore_ascii_case(EXTENSION_NAME)) {
        result = DeflateParams::from_response(accepted, offer);
        if result.is_ok() {
            break;
        }
    }
    result.map(Some)
}

/// The server's check of what it accepts: at most one permessage-deflate, with valid
/// parameters. Returns the parameters in force, if it is accepted.
pub(crate) fn check_accepted(
    accepted: &[Extension],
) -> Result<Option<DeflateParams>, DeflateError> {
    single(accepted)?.map(DeflateParams::from_negotiated).transpose()
}

/// The one permessage-deflate among negotiated extensions, if any.
fn single(extensions: &[Extension]) -> Result<Option<&Extension>, DeflateError> {
    let mut matching =
        extensions.iter().filter(|extension| extension.name().eq_ignore_ascii_case(EXTENSION_NAME));
    match (matching.next(), matching.next()) {
        (_, Some(_)) => Err(DeflateError::Repeated),
        (first, None) => Ok(first),
    }
}

/// Builds the extension from parameters known to be valid tokens.
fn build(params: &[(&str, Option<&str>)]) -> Extension {
    Extension::trusted(EXTENSION_NAME, params)
}

/// Why a permessage-deflate offer or response is invalid (RFC 7692 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateError {
    /// A parameter RFC 7692 does not define.
    #[error("unknown permessage-deflate parameter")]
    UnknownParameter,
    /// A parameter given twice.
    #[error("repeated permessage-deflate parameter")]
    DuplicateParameter,
    /// A value on a parameter that takes none.
    #[error("a no_context_takeover parameter with a value")]
    UnexpectedValue,
    /// A window size that is not 8–15 (or missing where required).
    #[error("window bits must be 8 to 15")]
    InvalidWindowBits,
    /// A response that grants or demands what the offer did not allow.
    #[error("the response does not match the offer")]
    NotOffered,
    /// permessage-deflate negotiated more than once (§5: one PMCE at a time).
    #[error("permessage-deflate accepted more than once")]
    Repeated,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_extensions;

    fn offers(header: &str) -> alloc::vec::Vec<Extension> {
        parse_extensions([header.as_bytes()]).unwrap()
    }

    #[test]
    fn the_first_valid_offer_is_accepted_and_invalid_ones_declined() {
        let config = DeflateConfig::default();
        // RFC 7692 §5.2's example: two offers, the first with a window limit.
        let (response, params) = config
            .accept(&offers(
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
                 permessage-deflate; client_max_window_bits",
            ))
            .unwrap();
        assert_eq!(response.to_string(), "permessage-deflate; server_max_window_bits=10");
        assert_eq!(params.server_max_window_bits, 10);
        assert_eq!(params.client_max_window_bits, 15);

        for invalid in [
            "permessage-deflate; server_max_window_bits", // a value is required
            "permessage-deflate; server_max_window_bits=16", // out of range
            "permessage-deflate; client_max_window_bits=7", // out of range
            "permessage-deflate; server_max_window_bits=010", // leading zero
            "permessage-deflate; server_no_context_takeover=1", // takes no value
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown_parameter",
        ] {
            assert_eq!(config.accept(&offers(invalid)), None, "{invalid}");
            // An invalid offer is skipped in favour of the next one.
            let both = offers(&[invalid, "permessage-deflate"].join(", "));
            assert_eq!(config.accept(&both).map(|(_, p)| p), Some(DeflateParams::default()));
        }
        assert_eq!(config.accept(&offers("x-webkit-deflate-frame")), None);
    }

    #[test]
    fn a_server_limits_what_the_offer_lets_it_limit() {
        let config = DeflateConfig {
            client_no_context_takeover: true,
            client_max_window_bits: 9,
            server_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        // Without client_max_window_bits in the offer, the client's window stays 15.
        let (response, params) = config.accept(&offers("permessage-deflate")).unwrap();
        assert_eq!(
            response.to_string(),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12"
        );
        assert_eq!(params.client_max_window_bits, 15);
        // With it, the client's window is limited too.
        let offer = offers("permessage-deflate; client_max_window_bits=10");
        let (response, params) = config.accept(&offer).unwrap();
        assert_eq!(params.client_max_window_bits, 9);
        assert_eq!(DeflateParams::from_response(&response, &offer[0]), Ok(params));
    }

    #[test]
    fn a_client_rejects_responses_its_offer_did_not_allow() {
        let offer = DeflateConfig::default().offer();
        assert_eq!(offer.to_string(), "permessage-deflate; client_max_window_bits");
        let check = |response: &str| DeflateParams::from_response(&offers(response)[0], &offer);
        assert_eq!(check("permessage-deflate"), Ok(DeflateParams::default()));
        assert_eq!(
            check("permessage-deflate; client_max_window_bits=8; server_no_context_takeover"),
            Ok(DeflateParams {
                server_no_context_takeover: true,
                client_max_window_bits: 8,
                ..DeflateParams::default()
            })
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits"),
            Err(DeflateError::InvalidWindowBits)
        );
        assert_eq!(check("permessage-deflate; mystery"), Err(DeflateError::UnknownParameter));

        let strict = DeflateConfig {
            server_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        let offer = strict.offer();
        let check = |response: &str| DeflateParams::from_response(&offers(response)[0], &offer);
        // It asked for no context takeover and a window of 10: both must be honoured.
        assert_eq!(
            check("permessage-deflate; server_max_window_bits=10"),
            Err(DeflateError::NotOffered)
        );
        assert_eq!(
            check("permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
            Err(DeflateError::NotOffered)
        );
        assert_eq!(
            check("permessage-deflate; server_no_context_takeover; client_max_window_bits=13"),
            Err(DeflateError::NotOffered)
        );
        assert!(check("permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
            .is_ok());
    }
}
