//! A WebSocket request as a server decides on it, whichever HTTP version carried it.

use alloc::string::String;

use super::{Extension, H2Request, UpgradeRequest};

/// A client's request for a WebSocket: an HTTP/1.1 upgrade (RFC 6455 §4.2.1) or an HTTP/2
/// extended CONNECT (RFC 8441 §4). What a server's policy looks at (path, `Origin`, offered
/// subprotocols and extensions) reads the same from either, so one handler serves both.
///
/// ```
/// use wsmachine::handshake::{H2Request, Offer};
///
/// let fields: [(&str, &[u8]); 7] = [
///     (":method", b"CONNECT"),
///     (":protocol", b"websocket"),
///     (":scheme", b"https"),
///     (":path", b"/chat?room=7"),
///     (":authority", b"example.com"),
///     ("origin", b"https://example.com"),
///     ("sec-websocket-version", b"13"),
/// ];
/// let request = H2Request::validate(fields)?;
/// let offer = Offer::Http2(&request);
/// assert_eq!((offer.path(), offer.query()), ("/chat", Some("room=7")));
/// assert_eq!(offer.origin(), Some("https://example.com"));
/// assert_eq!(offer.host(), Some("example.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer<'a> {
    /// An HTTP/1.1 `Upgrade: websocket` request.
    Http1(&'a UpgradeRequest),
    /// An HTTP/2 extended CONNECT with `:protocol websocket`.
    Http2(&'a H2Request),
}

impl<'a> Offer<'a> {
    /// The path asked for, without the query.
    #[must_use]
    pub fn path(&self) -> &'a str {
        match self {
            Offer::Http1(request) => request.request().path(),
            Offer::Http2(request) => {
                request.path().split_once('?').map_or(request.path(), |(path, _)| path)
            }
        }
    }

    /// The query, if the path had one.
    #[must_use]
    pub fn query(&self) -> Option<&'a str> {
        match self {
            Offer::Http1(request) => request.request().query(),
            Offer::Http2(request) => request.path().split_once('?').map(|(_, query)| query),
        }
    }

    /// The host (and port) the request was sent to: `Host` over HTTP/1.1, `:authority` over
    /// HTTP/2.
    #[must_use]
    pub fn host(&self) -> Option<&'a str> {
        match self {
            Offer::Http1(request) => request.request().host(),
            Offer::Http2(request) => Some(request.authority()),
        }
    }

    /// The `Origin` the browser sent, for the server's origin policy (§10.2).
    #[must_use]
    pub fn origin(&self) -> Option<&'a str> {
        match self {
            Offer::Http1(request) => request.request().origin(),
            Offer::Http2(request) => request.origin(),
        }
    }

    /// The offered subprotocols, in the client's order of preference.
    #[must_use]
    pub fn protocols(&self) -> &'a [String] {
        match self {
            Offer::Http1(request) => request.protocols(),
            Offer::Http2(request) => request.protocols(),
        }
    }

    /// The offered extensions.
    #[must_use]
    pub fn extensions(&self) -> &'a [Extension] {
        match self {
            Offer::Http1(request) => request.extensions(),
            Offer::Http2(request) => request.extensions(),
        }
    }

    /// Whether the request came over HTTP/2.
    #[must_use]
    pub fn is_http2(&self) -> bool {
        matches!(self, Offer::Http2(_))
    }
}
