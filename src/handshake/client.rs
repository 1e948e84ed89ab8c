//! The client side of the opening handshake (RFC 6455 §3, §4.1).

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::http1::{self, ByteWriter, HeadLimits, Header};
use super::server::{Negotiated, Rejection};
use super::tokens::{is_token, list_contains_token_ignore_case, list_elements};
use super::{
    accept_key, format_extensions, generate_key, parse_extensions, Extension, ExtensionHeaderError,
};
use crate::frame::Status;
use crate::random::RandomSource;

/// A `ws://` or `wss://` URI taken apart (§3).
///
/// ```
/// use wsmachine::handshake::WsUri;
///
/// let uri = WsUri::parse("wss://[::1]:8443/chat?room=7")?;
/// assert!(uri.is_secure());
/// assert_eq!(uri.host(), "::1");
/// assert_eq!(uri.port(), 8443);
/// assert_eq!(uri.resource(), "/chat?room=7");
/// assert_eq!(uri.host_header(), "[::1]:8443");
///
/// let uri = WsUri::parse("ws://example.com")?;
/// assert_eq!((uri.port(), uri.resource(), uri.host_header().as_str()), (80, "/", "example.com"));
/// # Ok::<(), wsmachine::handshake::UriError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsUri {
    secure: bool,
    host: String,
    port: u16,
    explicit_port: bool,
    resource: String,
}

impl WsUri {
    /// Parses a WebSocket URI: scheme `ws` or `wss` (any letter case), a host (a name, an IPv4
    /// address or an IPv6 address in brackets), an optional port (default 80 or 443), and a
    /// path and query (default `/`). A fragment is refused (§3: it has no meaning here), and so
    /// is user information, which a WebSocket request cannot carry.
    pub fn parse(uri: &str) -> Result<WsUri, UriError> {
        let (scheme, rest) = uri.split_once("://").ok_or(UriError::NotAbsolute)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UriError::UnsupportedScheme);
        };
        if rest.contains('#') {
            return Err(UriError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UriError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(UriError::MissingHost);
        }
        let explicit_port = port.is_some();
        let port = port.unwrap_or(if secure { 443 } else { 80 });
        let resource = match resource {
            "" => "/".to_string(),
            query if query.starts_with('?') => ["/", query].concat(),
            path => path.to_string(),
        };
        if resource.bytes().any(|byte| !(0x21..0x7F).contains(&byte)) {
            return Err(UriError::InvalidCharacter);
        }
        Ok(WsUri { secure, host: host.to_string(), port, explicit_port, resource })
    }

    /// Whether the scheme is `wss`: the caller must run TLS under the connection (§4.1).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to, without brackets for IPv6.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query: the request target (§3, /resource name/).
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header value: the host, bracketed if IPv6, with the port unless it is the
    /// scheme's default (§4.1, item 4).
    #[must_use]
    pub fn host_header(&self) -> String {
        let mut value = String::new();
        if self.host.contains(':') {
            let _ = write!(value, "[{}]", self.host);
        } else {
            value.push_str(&self.host);
        }
        let default_port = if self.secure { 443 } else { 80 };
        if self.explicit_port && self.port != default_port {
            let _ = write!(value, ":{}", self.port);
        }
        value
    }
}

/// Splits `host[:port]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UriError::InvalidHost)?;
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UriError::InvalidHost);
        }
        match after {
            "" => (host, None),
            port => (host, Some(port.strip_prefix(':').ok_or(UriError::InvalidHost)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.bytes().any(|b| !(b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:".contains(&b))) {
        return Err(UriError::InvalidHost);
    }
    let port = match port {
        None | Some("") => None,
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port != 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => return Err(UriError::InvalidPort),
        },
    };
    Ok((host, port))
}

/// Why a URI is not a usable WebSocket URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme://`.
    #[error("not an absolute URI")]
    NotAbsolute,
    /// A scheme other than `ws` or `wss`.
    #[error("the scheme is not ws or wss")]
    UnsupportedScheme,
    /// No host.
    #[error("no host")]
    MissingHost,
    /// A host that is not a name or an IP address.
    #[error("invalid host")]
    InvalidHost,
    /// A port that is not a number from 1 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// A fragment (`#...`), which WebSocket URIs must not have (§3).
    #[error("WebSocket URIs cannot have a fragment")]
    Fragment,
    /// User information (`user@`), which a WebSocket request cannot carry.
    #[error("WebSocket URIs cannot carry user information")]
    UserInfo,
    /// A space, control or non-ASCII character in the path or query (percent-encode it).
    #[error("the path or query holds a character that must be percent-encoded")]
    InvalidCharacter,
}

/// The client's opening handshake: what to ask for, then the request to send (§4.1).
///
/// ```
/// use wsmachine::frame::Status;
/// use wsmachine::handshake::{accept_key, ClientHandshake};
///
/// let mut request = Vec::new();
/// let pending = ClientHandshake::new("ws://example.com/chat")?
///     .protocol("chat")
///     .origin("http://example.com")
///     .write_request(&mut |buf: &mut [u8]| buf.fill(7), &mut request)?;
/// let text = String::from_utf8(request)?;
/// assert!(text.starts_with("GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
///
/// // The server's answer, and a first frame in the same read.
/// let mut response = format!(
///     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///      Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
///     accept_key(pending.key().as_bytes())
/// )
/// .into_bytes();
/// response.extend_from_slice(b"\x81\x02hi");
/// let Status::Complete((accepted, head_len)) = pending.read_response(&response)? else {
///     panic!("complete");
/// };
/// assert_eq!(accepted.negotiated().protocol(), Some("chat"));
/// assert_eq!(&response[head_len..], b"\x81\x02hi"); // kept for the frame layer
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    uri: WsUri,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    origin: Option<String>,
    headers: Vec<Header>,
    limits: HeadLimits,
}

impl ClientHandshake {
    /// A handshake for `uri` (`ws://` or `wss://`).
    pub fn new(uri: &str) -> Result<ClientHandshake, UriError> {
        Ok(ClientHandshake::for_uri(WsUri::parse(uri)?))
    }

    /// A handshake for an already parsed URI.
    #[must_use]
    pub fn for_uri(uri: WsUri) -> ClientHandshake {
        ClientHandshake {
            uri,
            protocols: Vec::new(),
            extensions: Vec::new(),
            origin: None,
            headers: Vec::new(),
            limits: HeadLimits::default(),
        }
    }

    /// Offers a subprotocol; offer several in order of preference. Each must be an HTTP token,
    /// and the request fails to build otherwise.
    #[must_use]
    pub fn protocol(mut self, protocol: &str) -> ClientHandshake {
        self.protocols.push(protocol.into());
        self
    }

    /// The URI the request is for.
    #[must_use]
    pub fn uri(&self) -> &WsUri {
        &self.uri
    }

    /// Whether an extension of this name is offered.
    #[must_use]
    pub fn offers(&self, extension_name: &str) -> bool {
        self.extensions.iter().any(|e| e.name().eq_ignore_ascii_case(extension_name))
    }

    /// Offers an extension with parameters (§9.1).
    #[must_use]
    pub fn extension(mut self, extension: Extension) -> ClientHandshake {
        self.extensions.push(extension);
        self
    }

    /// Sends an `Origin` header, as browsers do (§4.1, item 8).
    #[must_use]
    pub fn origin(mut self, origin: &str) -> ClientHandshake {
        self.origin = Some(origin.into());
        self
    }

    /// Adds a header, such as `Authorization` or `Cookie`.
    #[must_use]
    pub fn header(mut self, header: Header) -> ClientHandshake {
        self.headers.push(header);
        self
    }

    /// This request as the fields of an HTTP/2 extended CONNECT (RFC 8441 §4, §5): the
    /// pseudo-header fields first, names in lower case, then the headers added with
    /// [`header`](ClientHandshake::header). There is no key: the HTTP/2 stream stands for it.
    ///
    /// ```
    /// use wsmachine::handshake::ClientHandshake;
    ///
    /// let fields = ClientHandshake::new("wss://example.com/chat")?.protocol("chat").h2_fields()?;
    /// assert!(fields.contains(&(":protocol".into(), "websocket".into())));
    /// assert!(fields.contains(&("sec-websocket-protocol".into(), "chat".into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn h2_fields(&self) -> Result<Vec<(String, String)>, RequestBuildError> {
        if let Some(protocol) = self.protocols.iter().find(|p| !is_token(p.as_bytes())) {
            return Err(RequestBuildError::InvalidProtocol(protocol.clone()));
        }
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let mut fields = super::h2_connect_fields(
            &self.uri,
            &protocols,
            &self.extensions,
            self.origin.as_deref(),
        );
        for header in &self.headers {
            let value = header
                .value_str()
                .ok_or_else(|| RequestBuildError::InvalidHeader(header.name().into()))?;
            fields.push((header.name().to_ascii_lowercase(), value.into()));
        }
        Ok(fields)
    }

    /// Checks the server's answer to this request sent as an HTTP/2 extended CONNECT: a 2xx
    /// status and only what was offered (RFC 8441 §5).
    pub fn h2_check_response<'a>(
        &self,
        status: u16,
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Negotiated, super::H2ResponseError> {
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        super::h2_check_response(status, fields, &protocols, &self.extensions)
    }

    /// The URI the request is for, as text.
    #[cfg(feature = "http")]
    pub(crate) fn uri_string(&self) -> String {
        let scheme = if self.uri.is_secure() { "wss" } else { "ws" };
        [scheme, "://", &self.uri.host_header(), self.uri.resource()].concat()
    }

    /// Sets the limits for reading the response head.
    #[must_use]
    pub fn limits(mut self, limits: HeadLimits) -> ClientHandshake {
        self.limits = limits;
        self
    }

    /// Appends the request to `out` with a fresh key from `random`, and returns the handshake
    /// waiting for the server's response.
    pub fn write_request(
        self,
        random: &mut impl RandomSource,
        out: &mut Vec<u8>,
    ) -> Result<PendingHandshake, RequestBuildError> {
        let resource = self.uri.resource().to_string();
        let (headers, pending) = self.finish(random)?;
        let _ = write!(ByteWriter(out), "GET {resource} HTTP/1.1\r\n");
        http1::write_headers(out, &headers);
        Ok(pending)
    }

    /// The request headers with a fresh key, and the handshake that waits for the answer.
    pub(crate) fn finish(
        self,
        random: &mut impl RandomSource,
    ) -> Result<(Vec<Header>, PendingHandshake), RequestBuildError> {
        if let Some(protocol) = self.protocols.iter().find(|p| !is_token(p.as_bytes())) {
            return Err(RequestBuildError::InvalidProtocol(protocol.clone()));
        }
        let origin = match &self.origin {
            Some(origin) => Some(
                Header::new("Origin", origin)
                    .map_err(|_| RequestBuildError::InvalidHeader("Origin".into()))?,
            ),
            None => None,
        };
        let key = generate_key(random);
        let mut headers = vec![
            Header::trusted("Host", self.uri.host_header().as_bytes()),
            Header::trusted("Upgrade", b"websocket"),
            Header::trusted("Connection", b"Upgrade"),
            Header::trusted("Sec-WebSocket-Key", key.as_bytes()),
            Header::trusted("Sec-WebSocket-Version", b"13"),
        ];
        if !self.protocols.is_empty() {
            headers.push(Header::trusted(
                "Sec-WebSocket-Protocol",
                self.protocols.join(", ").as_bytes(),
            ));
        }
        if !self.extensions.is_empty() {
            let value = format_extensions(&self.extensions);
            headers.push(Header::trusted("Sec-WebSocket-Extensions", value.as_bytes()));
        }
        headers.extend(origin);
        headers.extend(self.headers);
        let pending = PendingHandshake {
            key,
            protocols: self.protocols,
            extensions: self.extensions,
            limits: self.limits,
        };
        Ok((headers, pending))
    }
}

/// Why a client request cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestBuildError {
    /// The URI cannot be expressed as an `http::Uri`.
    #[error("the URI cannot be expressed as an http::Uri")]
    InvalidUri,
    /// A subprotocol that is not an HTTP token (§4.1, item 10).
    #[error("subprotocol {0:?} is not an HTTP token")]
    InvalidProtocol(String),
    /// An `Origin` value that contains CR, LF or NUL.
    #[error("header {0:?} cannot be sent")]
    InvalidHeader(String),
}

/// A sent request waiting for the server's response (§4.1, "the client MUST validate the
/// server's response").
#[derive(Debug, Clone)]
pub struct PendingHandshake {
    key: String,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    limits: HeadLimits,
}

impl PendingHandshake {
    /// The `Sec-WebSocket-Key` sent.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Reads the response at the start of `buf`: `Incomplete` until the head (and, for a
    /// rejection with a `Content-Length`, its body) has arrived; then the accepted handshake
    /// and the length of the head, the bytes after which are the server's first frames.
    ///
    /// A status other than 101 is [`ResponseError::Rejected`] with the status, headers and
    /// body; a 101 that breaks a rule of §4.1 fails with the rule it broke.
    pub fn read_response(&self, buf: &[u8]) -> Result<Status<(Accepted, usize)>, ResponseError> {
        let Some(head_len) = http1::head_len(buf) else {
            if buf.len() >= self.limits.max_head_len {
                return Err(ResponseError::HeadTooLarge { limit: self.limits.max_head_len });
            }
            return Ok(Status::Incomplete { needed: 1 });
        };
        if head_len > self.limits.max_head_len {
            return Err(ResponseError::HeadTooLarge { limit: self.limits.max_head_len });
        }
        let mut raw_headers = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Response::new(&mut raw_headers);
        match parsed.parse(&buf[..head_len]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(ResponseError::Malformed),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ResponseError::TooManyHeaders { limit: self.limits.max_headers })
            }
            Err(_) => return Err(ResponseError::Malformed),
        }
        let status = parsed.code.ok_or(ResponseError::Malformed)?;
        let headers: Vec<Header> = parsed.headers.iter().map(Header::received).collect();
        if status != 101 {
            return rejected(status, headers, &buf[head_len..]);
        }
        let accepted = self.validate(headers)?;
        Ok(Status::Complete((accepted, head_len)))
    }

    /// Checks a 101 response against §4.1's list.
    pub(crate) fn validate(&self, headers: Vec<Header>) -> Result<Accepted, ResponseError> {
        if !list_contains_token_ignore_case(http1::values(&headers, "upgrade"), "websocket") {
            return Err(ResponseError::MissingUpgrade);
        }
        if !list_contains_token_ignore_case(http1::values(&headers, "connection"), "upgrade") {
            return Err(ResponseError::MissingConnectionUpgrade);
        }
        match http1::single_value(&headers, "sec-websocket-accept") {
            Ok(Some(accept)) if accept == accept_key(self.key.as_bytes()).as_bytes() => {}
            _ => return Err(ResponseError::BadAccept),
        }
        let negotiated = check_selection(
            http1::values(&headers, "sec-websocket-protocol"),
            http1::values(&headers, "sec-websocket-extensions"),
            &self.protocols,
            &self.extensions,
        )
        .map_err(|error| match error {
            Unoffered::Protocol => ResponseError::UnofferedProtocol,
            Unoffered::Extension(name) => ResponseError::UnofferedExtension(name),
            Unoffered::InvalidExtensions(error) => ResponseError::InvalidExtensions(error),
            #[cfg(feature = "deflate")]
            Unoffered::Deflate(error) => ResponseError::Deflate(error),
        })?;
        Ok(Accepted { negotiated, headers })
    }
}

/// Checks the server's choices against the client's offer: at most one subprotocol and one
/// that was offered (§4.1, item 6), only offered extensions (item 5). Shared by the HTTP/1.1
/// and HTTP/2 handshakes.
pub(crate) fn check_selection<'a>(
    protocol_values: impl IntoIterator<Item = &'a [u8]>,
    extension_values: impl IntoIterator<Item = &'a [u8]>,
    offered_protocols: &[impl AsRef<str>],
    offered_extensions: &[Extension],
) -> Result<Negotiated, Unoffered> {
    let mut selected = list_elements(protocol_values);
    let protocol = match (selected.next(), selected.next()) {
        (None, _) => None,
        (Some(protocol), None) => {
            match offered_protocols.iter().find(|p| p.as_ref().as_bytes() == protocol) {
                Some(offered) => Some(offered.as_ref().to_string()),
                None => return Err(Unoffered::Protocol),
            }
        }
        (Some(_), Some(_)) => return Err(Unoffered::Protocol),
    };
    let extensions = parse_extensions(extension_values).map_err(Unoffered::InvalidExtensions)?;
    if let Some(extension) =
        extensions.iter().find(|e| !offered_extensions.iter().any(|offer| offer.name() == e.name()))
    {
        return Err(Unoffered::Extension(extension.name().to_string()));
    }
    #[cfg(feature = "deflate")]
    crate::extensions::deflate::check_response(&extensions, offered_extensions)
        .map_err(Unoffered::Deflate)?;
    Ok(Negotiated { protocol, extensions })
}

/// What [`check_selection`] found wrong.
pub(crate) enum Unoffered {
    Protocol,
    Extension(String),
    InvalidExtensions(ExtensionHeaderError),
    #[cfg(feature = "deflate")]
    Deflate(crate::extensions::deflate::DeflateError),
}

/// A rejection with everything the server sent.
pub(crate) fn rejection(status: u16, headers: Vec<Header>, body: Vec<u8>) -> ResponseError {
    ResponseError::Rejected(Rejection::received(status, headers, body))
}

/// A rejection, once its body (as far as `Content-Length` says) has arrived.
fn rejected(
    status: u16,
    headers: Vec<Header>,
    after_head: &[u8],
) -> Result<Status<(Accepted, usize)>, ResponseError> {
    /// The most body kept from a rejection: enough for any error page worth showing.
    const MAX_BODY: usize = 64 * 1024;
    let declared = http1::single_value(&headers, "content-length")
        .ok()
        .flatten()
        .and_then(|value| core::str::from_utf8(value).ok()?.trim().parse::<usize>().ok());
    let body_len = match declared {
        Some(len) if len.min(MAX_BODY) > after_head.len() => {
            return Ok(Status::Incomplete { needed: len.min(MAX_BODY) - after_head.len() });
        }
        Some(len) => len.min(MAX_BODY),
        None => after_head.len().min(MAX_BODY),
    };
    Err(rejection(status, headers, after_head[..body_len].to_vec()))
}

/// A server's 101 response that passed every check: what was negotiated, and the headers (for
/// cookies the server set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    negotiated: Negotiated,
    headers: Vec<Header>,
}

impl Accepted {
    /// The subprotocol and extensions agreed on.
    #[must_use]
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Every header of the response.
    #[must_use]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }
}

/// Why the server's response does not complete the handshake; the client must fail the
/// connection (§4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The server answered with a status other than 101.
    #[error("server rejected the handshake with status {}", .0.status())]
    Rejected(Rejection),
    /// The head grew past [`HeadLimits::max_head_len`].
    #[error("response head exceeds {limit} bytes")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header fields than [`HeadLimits::max_headers`].
    #[error("response has more than {limit} header fields")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// Not an HTTP/1.x response head.
    #[error("malformed HTTP response")]
    Malformed,
    /// `Upgrade` does not name `websocket` (§4.1, item 2).
    #[error("response lacks Upgrade: websocket")]
    MissingUpgrade,
    /// `Connection` lacks the `Upgrade` token (§4.1, item 3).
    #[error("response lacks Connection: Upgrade")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match the key sent (§4.1, item 4).
    #[error("Sec-WebSocket-Accept does not match the key sent")]
    BadAccept,
    /// The server selected a subprotocol the client did not offer, or several (§4.1, item 6).
    #[error("server selected a subprotocol that was not offered")]
    UnofferedProtocol,
    /// The server accepted an extension the client did not offer (§4.1, item 5).
    #[error("server accepted extension {0:?}, which was not offered")]
    UnofferedExtension(String),
    /// `Sec-WebSocket-Extensions` breaks the grammar of §9.1.
    #[error("invalid Sec-WebSocket-Extensions: {0}")]
    InvalidExtensions(ExtensionHeaderError),
    /// The server's permessage-deflate parameters break RFC 7692 §7 or the offer.
    #[cfg(feature = "deflate")]
    #[error("permessage-deflate: {0}")]
    Deflate(crate::extensions::deflate::DeflateError),
}
