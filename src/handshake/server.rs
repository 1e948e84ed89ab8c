//! The server side of the opening handshake (RFC 6455 §4.2).

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::http1::{self, HeadLimits, Header};
use super::tokens::{is_token, list_contains_token_ignore_case, list_elements};
use super::{
    accept_key, format_extensions, is_valid_key, parse_extensions, Extension, ExtensionHeaderError,
};
use crate::frame::Status;

/// An HTTP request head as received: method, target, version and every header.
///
/// [`Request::parse`] reads one from whatever bytes have arrived; [`Request::classify`] tells a
/// WebSocket upgrade from a plain HTTP request, so one port can serve both.
///
/// ```
/// use wsmachine::frame::Status;
/// use wsmachine::handshake::{HeadLimits, Request};
///
/// let bytes = b"GET /index.html?lang=en HTTP/1.1\r\nHost: example.com\r\nCookie: a=1\r\n\r\n";
/// let Status::Complete((request, head_len)) = Request::parse(bytes, &HeadLimits::default())? else {
///     panic!("the head is complete");
/// };
/// assert_eq!(head_len, bytes.len());
/// assert_eq!(request.method(), "GET");
/// assert_eq!(request.path(), "/index.html");
/// assert_eq!(request.query(), Some("lang=en"));
/// assert_eq!(request.host(), Some("example.com"));
/// assert_eq!(request.header("cookie"), Some(&b"a=1"[..]));
/// # Ok::<(), wsmachine::handshake::RequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    minor_version: u8,
    headers: Vec<Header>,
}

impl Request {
    /// Reads the request head at the start of `buf`: the request and the length of its head, or
    /// `Incomplete` until the blank line has arrived. Bytes after the head (a client may send
    /// its first frames right behind the request) are left for the caller, at
    /// `buf[head_len..]`.
    ///
    /// Fails with [`RequestError::HeadTooLarge`] or [`RequestError::TooManyHeaders`] (431) past
    /// the limits, and [`RequestError::Malformed`] (400) for what is not HTTP/1.x.
    pub fn parse(
        buf: &[u8],
        limits: &HeadLimits,
    ) -> Result<Status<(Request, usize)>, RequestError> {
        let Some(head_len) = http1::head_len(buf) else {
            if buf.len() >= limits.max_head_len {
                return Err(RequestError::HeadTooLarge { limit: limits.max_head_len });
            }
            return Ok(Status::Incomplete { needed: 1 });
        };
        if head_len > limits.max_head_len {
            return Err(RequestError::HeadTooLarge { limit: limits.max_head_len });
        }
        let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf[..head_len]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(RequestError::Malformed),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(RequestError::TooManyHeaders { limit: limits.max_headers })
            }
            Err(_) => return Err(RequestError::Malformed),
        }
        let (Some(method), Some(target), Some(minor_version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(RequestError::Malformed);
        };
        let headers = parsed.headers.iter().map(Header::received).collect();
        let request = Request::from_parts(method.into(), target.into(), minor_version, headers);
        Ok(Status::Complete((request, head_len)))
    }

    /// Tells a WebSocket upgrade from any other request: a request whose `Upgrade` header
    /// names `websocket` is validated per §4.2.1 and fails with the reason and a ready
    /// rejection if it breaks a rule; every other request is returned as plain HTTP.
    ///
    /// ```
    /// use wsmachine::frame::Status;
    /// use wsmachine::handshake::{HeadLimits, Incoming, Request};
    ///
    /// let bytes = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    /// let Status::Complete((request, _)) = Request::parse(bytes, &HeadLimits::default())? else {
    ///     panic!("complete");
    /// };
    /// let Incoming::WebSocket(upgrade) = request.classify()? else { panic!("an upgrade") };
    /// assert_eq!(upgrade.protocols(), ["chat", "superchat"]);
    /// # Ok::<(), wsmachine::handshake::RequestError>(())
    /// ```
    pub fn classify(self) -> Result<Incoming, RequestError> {
        if !list_contains_token_ignore_case(self.header_values("upgrade"), "websocket") {
            return Ok(Incoming::Http(self));
        }
        UpgradeRequest::validate(self).map(Incoming::WebSocket)
    }

    /// A request from its parts, however they were read.
    pub(crate) fn from_parts(
        method: String,
        target: String,
        minor_version: u8,
        headers: Vec<Header>,
    ) -> Request {
        Request { method, target, minor_version, headers }
    }

    /// The method, such as `GET`.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: the path and query, or an absolute URI.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path: the target up to `?`, the scheme and authority removed if the target was an
    /// absolute URI (§4.2.1, item 1).
    #[must_use]
    pub fn path(&self) -> &str {
        let target = self.target.split_once('?').map_or(&*self.target, |(path, _)| path);
        if target.starts_with('/') {
            return target; // origin-form, the usual case, even if "://" appears in it
        }
        match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
            None => target,
        }
    }

    /// The query: the target after `?`, if there is one.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The HTTP version's minor number: 1 for HTTP/1.1, 0 for HTTP/1.0.
    #[must_use]
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Every header field, in the order received.
    #[must_use]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first header named `name` (compared case-insensitively).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.header_values(name).next()
    }

    /// The values of every header named `name`, in order.
    pub fn header_values<'r, 'n>(
        &'r self,
        name: &'n str,
    ) -> impl Iterator<Item = &'r [u8]> + use<'r, 'n> {
        http1::values(&self.headers, name)
    }

    /// The `Host` header: the authority the client wants, for virtual hosting.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        self.header("host").and_then(|value| core::str::from_utf8(value).ok())
    }

    /// The `Origin` header, sent by every browser: the page that opened the connection, for the
    /// caller's origin policy (§10.2).
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.header("origin").and_then(|value| core::str::from_utf8(value).ok())
    }
}

/// What a request turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    /// A valid WebSocket opening handshake, to accept or reject.
    WebSocket(UpgradeRequest),
    /// Any other HTTP request, for the caller to serve.
    Http(Request),
}

/// A valid client opening handshake (§4.2.1): what the client asked for, and the way to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    request: Request,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
}

impl UpgradeRequest {
    /// Checks the rules of §4.2.1 in the order that gives a client the most useful answer.
    fn validate(request: Request) -> Result<UpgradeRequest, RequestError> {
        if request.method != "GET" {
            return Err(RequestError::MethodNotGet);
        }
        if request.minor_version < 1 {
            return Err(RequestError::HttpVersionTooOld);
        }
        match http1::single_value(&request.headers, "host") {
            Ok(Some(_)) => {}
            Ok(None) => return Err(RequestError::MissingHost),
            Err(()) => return Err(RequestError::DuplicateHeader("Host")),
        }
        if !list_contains_token_ignore_case(request.header_values("connection"), "upgrade") {
            return Err(RequestError::MissingConnectionUpgrade);
        }
        match http1::single_value(&request.headers, "sec-websocket-version") {
            Ok(Some(b"13")) => {}
            _ => return Err(RequestError::UnsupportedVersion),
        }
        let key = match http1::single_value(&request.headers, "sec-websocket-key") {
            Ok(Some(key)) if is_valid_key(key) => String::from_utf8_lossy(key).into_owned(),
            Ok(_) => return Err(RequestError::InvalidKey),
            Err(()) => return Err(RequestError::DuplicateHeader("Sec-WebSocket-Key")),
        };
        let protocols = parse_protocol_offer(request.header_values("sec-websocket-protocol"))
            .ok_or(RequestError::InvalidProtocolList)?;
        let extensions = parse_extensions(request.header_values("sec-websocket-extensions"))
            .map_err(RequestError::InvalidExtensions)?;
        if carries_body(&request.headers) {
            return Err(RequestError::UpgradeWithBody);
        }
        Ok(UpgradeRequest { request, key, protocols, extensions })
    }

    /// The whole request: path, query, Host, Origin, cookies and every other header.
    #[must_use]
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The `Sec-WebSocket-Key` value.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order of
    /// preference.
    #[must_use]
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions the client offered (`Sec-WebSocket-Extensions`), with their parameters,
    /// in order (§9.1).
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Starts the 101 response; see [`Accept`].
    #[must_use]
    pub fn accept(&self) -> Accept<'_> {
        Accept { request: self, protocol: None, extensions: Vec::new(), headers: Vec::new() }
    }
}

/// Whether a request head announces a body: any `Transfer-Encoding`, or a `Content-Length`
/// other than a single 0. An HTTP intermediary would forward such bytes as the request's body,
/// so an upgrade that carries one is refused rather than reading them as frames.
fn carries_body(headers: &[Header]) -> bool {
    if http1::values(headers, "transfer-encoding").next().is_some() {
        return true;
    }
    http1::values(headers, "content-length").any(|value| value.trim_ascii() != b"0")
}

/// The 101 Switching Protocols response to an [`UpgradeRequest`] (§4.2.2), built up and then
/// written with [`Accept::write`].
///
/// ```
/// use wsmachine::frame::Status;
/// use wsmachine::handshake::{HeadLimits, Header, Incoming, Request};
///
/// let bytes = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
///     Sec-WebSocket-Protocol: superchat, chat\r\n\r\n";
/// let Status::Complete((request, _)) = Request::parse(bytes, &HeadLimits::default())? else { panic!() };
/// let Incoming::WebSocket(upgrade) = request.classify()? else { panic!() };
///
/// let mut response = Vec::new();
/// let negotiated = upgrade
///     .accept()
///     .protocol("chat")
///     .header(Header::new("Set-Cookie", "session=1")?)
///     .write(&mut response)?;
/// assert_eq!(negotiated.protocol(), Some("chat"));
/// let text = String::from_utf8(response)?;
/// assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
/// assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
/// assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Accept<'r> {
    request: &'r UpgradeRequest,
    protocol: Option<String>,
    extensions: Vec<Extension>,
    headers: Vec<Header>,
}

impl Accept<'_> {
    /// Selects a subprotocol; it must be one the client offered (§4.2.2, item 5.4).
    #[must_use]
    pub fn protocol(mut self, protocol: &str) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Accepts an extension, with the parameters the server chose; the client must have
    /// offered an extension of that name (§9.1).
    #[must_use]
    pub fn extension(mut self, extension: Extension) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Accepts the client's first valid permessage-deflate offer with `config`'s wishes, unless
    /// permessage-deflate is already accepted or none was offered (RFC 7692 §5).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn with_deflate(self, config: &crate::extensions::deflate::DeflateConfig) -> Self {
        let name = crate::extensions::deflate::EXTENSION_NAME;
        if self.extensions.iter().any(|e| e.name().eq_ignore_ascii_case(name)) {
            return self;
        }
        match config.accept(&self.request.extensions) {
            Some((extension, _)) => self.extension(extension),
            None => self,
        }
    }

    /// Adds a header to the response, such as `Set-Cookie`.
    #[must_use]
    pub fn header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }

    /// Appends the response to `out` and returns what was negotiated, or fails, writing
    /// nothing, if the subprotocol or an extension was not offered.
    pub fn write(self, out: &mut Vec<u8>) -> Result<Negotiated, AcceptError> {
        let (headers, negotiated) = self.finish()?;
        http1::write_response_head(out, 101, &headers);
        Ok(negotiated)
    }

    /// The headers of the 101 response and what it negotiates, once the choices are checked.
    pub(crate) fn finish(self) -> Result<(Vec<Header>, Negotiated), AcceptError> {
        let offered = self.request;
        let protocol = self.protocol.as_deref();
        check_choice(&offered.protocols, &offered.extensions, protocol, &self.extensions)?;
        let mut headers = vec![
            Header::trusted("Upgrade", b"websocket"),
            Header::trusted("Connection", b"Upgrade"),
            Header::trusted("Sec-WebSocket-Accept", accept_key(offered.key.as_bytes()).as_bytes()),
        ];
        if let Some(protocol) = &self.protocol {
            headers.push(Header::trusted("Sec-WebSocket-Protocol", protocol.as_bytes()));
        }
        if !self.extensions.is_empty() {
            let value = format_extensions(&self.extensions);
            headers.push(Header::trusted("Sec-WebSocket-Extensions", value.as_bytes()));
        }
        headers.extend(self.headers);
        Ok((headers, Negotiated { protocol: self.protocol, extensions: self.extensions }))
    }
}

/// The subprotocols of `Sec-WebSocket-Protocol` lines, in order, or `None` if one is not a
/// token (§4.1, item 10). Shared by the HTTP/1.1 and HTTP/2 servers.
pub(crate) fn parse_protocol_offer<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Option<Vec<String>> {
    list_elements(values)
        .map(|protocol| is_token(protocol).then(|| String::from_utf8_lossy(protocol).into_owned()))
        .collect()
}

/// Checks the server's choice against the client's offer: the subprotocol must be one offered
/// (§4.2.2, item 5.4), and each extension one whose name was offered (§9.1).
pub(crate) fn check_choice(
    offered_protocols: &[String],
    offered_extensions: &[Extension],
    protocol: Option<&str>,
    extensions: &[Extension],
) -> Result<(), AcceptError> {
    if let Some(protocol) = protocol {
        if !offered_protocols.iter().any(|offered| offered == protocol) {
            return Err(AcceptError::ProtocolNotOffered(protocol.into()));
        }
    }
    let unoffered =
        extensions.iter().find(|e| !offered_extensions.iter().any(|o| o.name() == e.name()));
    if let Some(extension) = unoffered {
        return Err(AcceptError::ExtensionNotOffered(extension.name().into()));
    }
    #[cfg(feature = "deflate")]
    crate::extensions::deflate::check_accepted(extensions).map_err(AcceptError::Deflate)?;
    Ok(())
}

/// What the two sides agreed on in the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Negotiated {
    pub(crate) protocol: Option<String>,
    pub(crate) extensions: Vec<Extension>,
}

impl Negotiated {
    /// Nothing negotiated: no subprotocol, no extension.
    pub(crate) const NOTHING: Negotiated = Negotiated { protocol: None, extensions: Vec::new() };

    /// The selected subprotocol, if any.
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The accepted extensions with their parameters, in the order they apply.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }
}

/// Why the server cannot send the 101 response it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The subprotocol is not one the client offered (§4.2.2).
    #[error("subprotocol {0:?} was not offered by the client")]
    ProtocolNotOffered(String),
    /// The extension is not one the client offered (§9.1).
    #[error("extension {0:?} was not offered by the client")]
    ExtensionNotOffered(String),
    /// The permessage-deflate parameters break RFC 7692 §7, or it was accepted twice.
    #[cfg(feature = "deflate")]
    #[error("permessage-deflate: {0}")]
    Deflate(crate::extensions::deflate::DeflateError),
}

/// An HTTP response other than the upgrade: a server builds one to decline the upgrade or to
/// answer a plain request, and a client receives one when the server declined. Status, headers
/// and body; `Content-Length` is added when written.
///
/// ```
/// use wsmachine::handshake::{Header, Rejection};
///
/// let mut out = Vec::new();
/// Rejection::new(403)
///     .with_header(Header::new("Content-Type", "text/plain")?)
///     .with_body("no")
///     .write(&mut out);
/// assert_eq!(
///     out,
///     b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno"
/// );
/// # Ok::<(), wsmachine::handshake::InvalidHeader>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: u16,
    headers: Vec<Header>,
    body: Vec<u8>,
}

impl Rejection {
    /// A response with this status, no headers and an empty body.
    #[must_use]
    pub fn new(status: u16) -> Rejection {
        Rejection { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A response as received by a client.
    pub(crate) fn received(status: u16, headers: Vec<Header>, body: Vec<u8>) -> Rejection {
        Rejection { status, headers, body }
    }

    /// The response with a header added.
    #[must_use]
    pub fn with_header(mut self, header: Header) -> Rejection {
        self.headers.push(header);
        self
    }

    /// The response with this body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Rejection {
        self.body = body.into();
        self
    }

    /// The status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers (`Location` for a redirect, `WWW-Authenticate` for a 401...), without the
    /// `Content-Length` that [`write`](Rejection::write) adds.
    #[must_use]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first header named `name` (compared case-insensitively).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        http1::values(&self.headers, name).next()
    }

    /// The body. For a response a client received: as many bytes as `Content-Length` said (at
    /// most 64 KiB), or what arrived with the head when it gave no length.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Appends the response to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut headers = self.headers.clone();
        let length = self.body.len().to_string();
        headers.push(Header::trusted("Content-Length", length.as_bytes()));
        http1::write_response_head(out, self.status, &headers);
        out.extend_from_slice(&self.body);
    }
}

/// Why a request cannot be read or is not a valid opening handshake; each knows the HTTP
/// status to answer with and has a ready [`Rejection`].
///
/// ```
/// use wsmachine::handshake::RequestError;
///
/// let rejection = RequestError::UnsupportedVersion.rejection();
/// assert_eq!(rejection.status(), 426);
/// let mut out = Vec::new();
/// rejection.write(&mut out);
/// assert!(out.windows(25).any(|w| w == b"Sec-WebSocket-Version: 13"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The head grew past [`HeadLimits::max_head_len`] (431).
    #[error("request head exceeds {limit} bytes")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header fields than [`HeadLimits::max_headers`] (431).
    #[error("request has more than {limit} header fields")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// Not an HTTP/1.x request head (400).
    #[error("malformed HTTP request")]
    Malformed,
    /// An upgrade requested with a method other than GET (§4.2.1, item 1; 405).
    #[error("WebSocket upgrade with a method other than GET")]
    MethodNotGet,
    /// An upgrade requested over HTTP/1.0 (§4.2.1, item 1; 400).
    #[error("WebSocket upgrade needs HTTP/1.1 or later")]
    HttpVersionTooOld,
    /// No `Host` header (§4.2.1, item 2; 400).
    #[error("missing Host header")]
    MissingHost,
    /// A header that must appear once appeared more than once (400).
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// `Connection` lacks the `Upgrade` token (§4.2.1, item 4; 400).
    #[error("Connection header does not contain Upgrade")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is missing or not 13 (§4.2.1, item 6; 426 with
    /// `Sec-WebSocket-Version: 13`, §4.4).
    #[error("Sec-WebSocket-Version is missing or not 13")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing or not base64 of 16 bytes (§4.2.1, item 5; 400).
    #[error("Sec-WebSocket-Key is missing or not base64 of 16 bytes")]
    InvalidKey,
    /// `Sec-WebSocket-Protocol` holds something other than a list of tokens (§4.1; 400).
    #[error("Sec-WebSocket-Protocol is not a list of tokens")]
    InvalidProtocolList,
    /// `Sec-WebSocket-Extensions` breaks the grammar of §9.1 (400).
    #[error("invalid Sec-WebSocket-Extensions: {0}")]
    InvalidExtensions(ExtensionHeaderError),
    /// An upgrade that announces a body (`Transfer-Encoding`, or `Content-Length` other than
    /// 0; 400). An intermediary would pass those bytes on as the request's body, so they are
    /// never read as the first frames (RFC 9112 §6.3).
    #[error("WebSocket upgrade request carries a body (Content-Length or Transfer-Encoding)")]
    UpgradeWithBody,
}

impl RequestError {
    /// The HTTP status to answer with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge { .. } | RequestError::TooManyHeaders { .. } => 431,
            RequestError::MethodNotGet => 405,
            RequestError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// A ready response: the status, the headers the RFC asks for (`Sec-WebSocket-Version: 13`
    /// with 426, `Allow: GET` with 405), `Connection: close`, and the error as a text body.
    #[must_use]
    pub fn rejection(&self) -> Rejection {
        let mut rejection = Rejection::new(self.status())
            .with_header(Header::trusted("Connection", b"close"))
            .with_header(Header::trusted("Content-Type", b"text/plain; charset=utf-8"));
        match self {
            RequestError::UnsupportedVersion => {
                rejection = rejection.with_header(Header::trusted("Sec-WebSocket-Version", b"13"));
            }
            RequestError::MethodNotGet => {
                rejection = rejection.with_header(Header::trusted("Allow", b"GET"));
            }
            _ => {}
        }
        rejection.with_body(self.to_string())
    }
}
