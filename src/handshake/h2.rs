//! WebSocket over HTTP/2 (RFC 8441): the extended CONNECT that replaces the HTTP/1.1 upgrade.
//!
//! An HTTP/2 stack (h2, hyper) owns the streams and the SETTINGS frame that enables the
//! extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`, RFC 8441 §3). These helpers check
//! the request fields and build the response fields, so the stream can then carry this
//! crate's framing. There is no `Sec-WebSocket-Key` or `Sec-WebSocket-Accept` in HTTP/2
//! (RFC 8441 §5): the stream itself proves the server understood the request.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::client::{check_selection, Unoffered, WsUri};
use super::server::{check_choice, parse_protocol_offer, AcceptError, Negotiated};
use super::{format_extensions, parse_extensions, Extension, ExtensionHeaderError};

/// A validated extended CONNECT request for WebSocket (RFC 8441 §4, §5).
///
/// ```
/// use wsmachine::handshake::H2Request;
///
/// let fields: [(&str, &[u8]); 7] = [
///     (":method", b"CONNECT"),
///     (":protocol", b"websocket"),
///     (":scheme", b"https"),
///     (":path", b"/chat"),
///     (":authority", b"server.example.com"),
///     ("sec-websocket-protocol", b"chat, superchat"),
///     ("sec-websocket-version", b"13"),
/// ];
/// let request = H2Request::validate(fields)?;
/// assert_eq!(request.path(), "/chat");
/// assert_eq!(request.protocols(), ["chat", "superchat"]);
///
/// let response = request.accept(Some("chat"), Vec::new())?;
/// assert_eq!(response.status, 200);
/// assert_eq!(response.fields, [("sec-websocket-protocol".to_string(), "chat".to_string())]);
/// assert_eq!(response.negotiated.protocol(), Some("chat"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H2Request {
    scheme: String,
    authority: String,
    path: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
}

impl H2Request {
    /// Checks the fields of a request (pseudo-header fields included, names in lower case as
    /// HTTP/2 requires): `:method` CONNECT, `:protocol` websocket, `:scheme`, `:path` and
    /// `:authority` present (RFC 8441 §4), `sec-websocket-version: 13`, and well-formed
    /// subprotocol and extension lists (RFC 8441 §5).
    pub fn validate<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<H2Request, H2RequestError> {
        let mut method = None;
        let mut protocol = None;
        let mut scheme = None;
        let mut authority = None;
        let mut path = None;
        let mut origin = None;
        let mut version = None;
        let mut protocol_values = Vec::new();
        let mut extension_values = Vec::new();
        for (name, value) in fields {
            let slot = match name {
                ":method" => &mut method,
                ":protocol" => &mut protocol,
                ":scheme" => &mut scheme,
                ":authority" => &mut authority,
                ":path" => &mut path,
                "origin" => &mut origin,
                "sec-websocket-version" => &mut version,
                "sec-websocket-protocol" => {
                    protocol_values.push(value);
                    continue;
                }
                "sec-websocket-extensions" => {
                    extension_values.push(value);
                    continue;
                }
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(H2RequestError::DuplicateField(field_name(name)));
            }
        }
        if method != Some(&b"CONNECT"[..]) {
            return Err(H2RequestError::NotConnect);
        }
        if protocol != Some(&b"websocket"[..]) {
            return Err(H2RequestError::NotWebSocketProtocol);
        }
        let text = |value: Option<&[u8]>, name: &'static str| {
            value
                .filter(|value| !value.is_empty())
                .and_then(|value| core::str::from_utf8(value).ok())
                .map(ToString::to_string)
                .ok_or(H2RequestError::MissingField(name))
        };
        let scheme = text(scheme, ":scheme")?;
        let authority = text(authority, ":authority")?;
        let path = text(path, ":path")?;
        if version != Some(&b"13"[..]) {
            return Err(H2RequestError::UnsupportedVersion);
        }
        let origin = origin.and_then(|value| core::str::from_utf8(value).ok()).map(Into::into);
        let protocols =
            parse_protocol_offer(protocol_values).ok_or(H2RequestError::InvalidProtocolList)?;
        let extensions =
            parse_extensions(extension_values).map_err(H2RequestError::InvalidExtensions)?;
        Ok(H2Request { scheme, authority, path, origin, protocols, extensions })
    }

    /// `:scheme`: `https` or `http`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `:authority`: the host (and port) asked for, the HTTP/2 `Host`.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `:path`: the path and query.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `origin` field, for the caller's origin policy.
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The offered subprotocols, in order of preference.
    #[must_use]
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The offered extensions.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The 200 response (RFC 8441 §5): its status, the fields to send with it, and what was
    /// negotiated. The subprotocol and each extension must have been offered.
    pub fn accept(
        &self,
        protocol: Option<&str>,
        extensions: Vec<Extension>,
    ) -> Result<H2Response, AcceptError> {
        check_choice(&self.protocols, &self.extensions, protocol, &extensions)?;
        let mut fields = Vec::new();
        if let Some(protocol) = protocol {
            fields.push(("sec-websocket-protocol".to_string(), protocol.to_string()));
        }
        if !extensions.is_empty() {
            fields.push(("sec-websocket-extensions".to_string(), format_extensions(&extensions)));
        }
        let negotiated = Negotiated { protocol: protocol.map(Into::into), extensions };
        Ok(H2Response { status: 200, fields, negotiated })
    }
}

/// The answer to an accepted extended CONNECT: the status and fields for the HTTP/2 stack to
/// send, and what was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct H2Response {
    /// The status: 200 (RFC 8441 §5).
    pub status: u16,
    /// The response fields, lower-case names.
    pub fields: Vec<(String, String)>,
    /// The subprotocol and extensions agreed on.
    pub negotiated: Negotiated,
}

/// The fields of a client's extended CONNECT for `uri`, pseudo-header fields first (RFC 8441
/// §4, §5), with the offered subprotocols and extensions.
///
/// ```
/// use wsmachine::handshake::{h2_connect_fields, H2Request, WsUri};
///
/// let uri = WsUri::parse("wss://example.com/chat")?;
/// let fields = h2_connect_fields(&uri, &["chat"], &[], Some("https://example.com"));
/// assert_eq!(fields[0], (":method".to_string(), "CONNECT".to_string()));
/// let request = H2Request::validate(fields.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))?;
/// assert_eq!(request.authority(), "example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn h2_connect_fields(
    uri: &WsUri,
    protocols: &[&str],
    extensions: &[Extension],
    origin: Option<&str>,
) -> Vec<(String, String)> {
    let mut fields = Vec::from([
        (":method".to_string(), "CONNECT".to_string()),
        (":protocol".to_string(), "websocket".to_string()),
        (":scheme".to_string(), if uri.is_secure() { "https" } else { "http" }.to_string()),
        (":path".to_string(), uri.resource().to_string()),
        (":authority".to_string(), uri.host_header()),
        ("sec-websocket-version".to_string(), "13".to_string()),
    ]);
    if !protocols.is_empty() {
        fields.push(("sec-websocket-protocol".to_string(), protocols.join(", ")));
    }
    if !extensions.is_empty() {
        fields.push(("sec-websocket-extensions".to_string(), format_extensions(extensions)));
    }
    if let Some(origin) = origin {
        fields.push(("origin".to_string(), origin.to_string()));
    }
    fields
}

/// Checks the server's answer to an extended CONNECT (RFC 8441 §5): a 2xx status, at most one
/// subprotocol and one that was offered, and only offered extensions.
///
/// ```
/// use wsmachine::handshake::h2_check_response;
///
/// let fields: [(&str, &[u8]); 1] = [("sec-websocket-protocol", b"chat")];
/// let negotiated = h2_check_response(200, fields, &["chat"], &[])?;
/// assert_eq!(negotiated.protocol(), Some("chat"));
/// assert!(h2_check_response(403, [], &["chat"], &[]).is_err());
/// # Ok::<(), wsmachine::handshake::H2ResponseError>(())
/// ```
pub fn h2_check_response<'a>(
    status: u16,
    fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    offered_protocols: &[&str],
    offered_extensions: &[Extension],
) -> Result<Negotiated, H2ResponseError> {
    if !(200..300).contains(&status) {
        return Err(H2ResponseError::Rejected(status));
    }
    let mut protocol_values = Vec::new();
    let mut extension_values = Vec::new();
    for (name, value) in fields {
        match name {
            "sec-websocket-protocol" => protocol_values.push(value),
            "sec-websocket-extensions" => extension_values.push(value),
            _ => {}
        }
    }
    check_selection(protocol_values, extension_values, offered_protocols, offered_extensions)
        .map_err(|error| match error {
            Unoffered::Protocol => H2ResponseError::UnofferedProtocol,
            Unoffered::Extension(name) => H2ResponseError::UnofferedExtension(name),
            Unoffered::InvalidExtensions(error) => H2ResponseError::InvalidExtensions(error),
            #[cfg(feature = "deflate")]
            Unoffered::Deflate(error) => H2ResponseError::Deflate(error),
        })
}

/// The static name of a field that may appear once, for error messages.
fn field_name(name: &str) -> &'static str {
    match name {
        ":method" => ":method",
        ":protocol" => ":protocol",
        ":scheme" => ":scheme",
        ":authority" => ":authority",
        ":path" => ":path",
        "origin" => "origin",
        _ => "sec-websocket-version",
    }
}

/// Why an HTTP/2 request is not a valid WebSocket extended CONNECT; an HTTP/2 server answers
/// with [`H2RequestError::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum H2RequestError {
    /// `:method` is not CONNECT.
    #[error(":method is not CONNECT")]
    NotConnect,
    /// `:protocol` is missing or not `websocket`.
    #[error(":protocol is not websocket")]
    NotWebSocketProtocol,
    /// A required pseudo-header field is missing or empty.
    #[error("missing {0}")]
    MissingField(&'static str),
    /// A field that must appear once appeared twice.
    #[error("duplicate {0}")]
    DuplicateField(&'static str),
    /// `sec-websocket-version` is missing or not 13.
    #[error("sec-websocket-version is missing or not 13")]
    UnsupportedVersion,
    /// `sec-websocket-protocol` is not a list of tokens.
    #[error("sec-websocket-protocol is not a list of tokens")]
    InvalidProtocolList,
    /// `sec-websocket-extensions` breaks the grammar of RFC 6455 §9.1.
    #[error("invalid sec-websocket-extensions: {0}")]
    InvalidExtensions(ExtensionHeaderError),
}

impl H2RequestError {
    /// The status to answer with: 426 with `sec-websocket-version: 13` for a version mismatch
    /// (RFC 6455 §4.4), 400 otherwise.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            H2RequestError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}

/// Why a client must fail an HTTP/2 WebSocket stream after the server's response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum H2ResponseError {
    /// A status outside 2xx.
    #[error("server rejected the extended CONNECT with status {0}")]
    Rejected(u16),
    /// A subprotocol that was not offered, or several.
    #[error("server selected a subprotocol that was not offered")]
    UnofferedProtocol,
    /// An extension that was not offered.
    #[error("server accepted extension {0:?}, which was not offered")]
    UnofferedExtension(String),
    /// `sec-websocket-extensions` breaks the grammar of RFC 6455 §9.1.
    #[error("invalid sec-websocket-extensions: {0}")]
    InvalidExtensions(ExtensionHeaderError),
    /// The server's permessage-deflate parameters break RFC 7692 §7 or the offer.
    #[cfg(feature = "deflate")]
    #[error("permessage-deflate: {0}")]
    Deflate(crate::extensions::deflate::DeflateError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(extra: &[(&'static str, &'static [u8])]) -> Vec<(&'static str, &'static [u8])> {
        let mut fields: Vec<(&str, &[u8])> = Vec::from([
            (":method", &b"CONNECT"[..]),
            (":protocol", b"websocket"),
            (":scheme", b"https"),
            (":path", b"/"),
            (":authority", b"a"),
            ("sec-websocket-version", b"13"),
        ]);
        fields.retain(|(name, _)| !extra.iter().any(|(replaced, _)| replaced == name));
        fields.extend(extra.iter().filter(|(_, value)| !value.is_empty()));
        fields
    }

    #[test]
    fn each_rule_of_rfc_8441_is_checked() {
        assert!(H2Request::validate(fields(&[])).is_ok());
        type Replacements = &'static [(&'static str, &'static [u8])];
        let cases: [(Replacements, H2RequestError); 6] = [
            (&[(":method", b"GET")], H2RequestError::NotConnect),
            (&[(":protocol", b"")], H2RequestError::NotWebSocketProtocol),
            (&[(":protocol", b"h2c")], H2RequestError::NotWebSocketProtocol),
            (&[(":path", b"")], H2RequestError::MissingField(":path")),
            (&[("sec-websocket-version", b"8")], H2RequestError::UnsupportedVersion),
            (&[("sec-websocket-protocol", b"a b")], H2RequestError::InvalidProtocolList),
        ];
        for (extra, expected) in cases {
            assert_eq!(H2Request::validate(fields(extra)), Err(expected));
        }
        let mut twice = fields(&[]);
        twice.push((":authority", b"b"));
        assert_eq!(H2Request::validate(twice), Err(H2RequestError::DuplicateField(":authority")));
        assert_eq!(H2RequestError::UnsupportedVersion.status(), 426);
    }

    #[test]
    fn responses_may_select_only_what_was_offered() {
        let deflate = Extension::new("permessage-deflate").unwrap();
        let fields: [(&str, &[u8]); 2] =
            [("sec-websocket-protocol", b"b"), ("sec-websocket-extensions", b"permessage-deflate")];
        let negotiated = h2_check_response(200, fields, &["a", "b"], &[deflate]).unwrap();
        assert_eq!(negotiated.protocol(), Some("b"));
        assert_eq!(negotiated.extensions().len(), 1);
        assert_eq!(
            h2_check_response(200, fields, &["a"], &[]),
            Err(H2ResponseError::UnofferedProtocol)
        );
        assert_eq!(h2_check_response(404, [], &[], &[]), Err(H2ResponseError::Rejected(404)));
    }
}
