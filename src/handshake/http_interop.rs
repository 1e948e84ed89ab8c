//! Conversions to and from the `http` crate's types (feature `http`), so that hyper, axum or
//! any other HTTP stack can run the upgrade and hand the negotiated result to this crate.
//!
//! The rules are the same as for bytes: these functions only translate the types and call the
//! same validation.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::client::{rejection, Accepted, ClientHandshake, PendingHandshake};
use super::http1::Header;
use super::server::{Accept, Negotiated, Rejection, Request, RequestError, UpgradeRequest};
use super::{AcceptError, Incoming, RequestBuildError, ResponseError};
use crate::random::RandomSource;

/// Our headers as an `http` header map. Every `Header` holds a token name and a value without
/// control characters, which `http` accepts, so nothing is dropped.
fn header_map(headers: &[Header]) -> http::HeaderMap {
    let mut map = http::HeaderMap::with_capacity(headers.len());
    for header in headers {
        let name = http::HeaderName::from_bytes(header.name().as_bytes());
        let value = http::HeaderValue::from_bytes(header.value());
        if let (Ok(name), Ok(value)) = (name, value) {
            map.append(name, value);
        }
    }
    map
}

/// An `http` header map as our headers, in order.
fn headers_from(map: &http::HeaderMap) -> Vec<Header> {
    map.iter().map(|(name, value)| Header::from_http(name.as_str(), value.as_bytes())).collect()
}

impl Request {
    /// The request an HTTP stack has parsed, for [`Request::classify`].
    ///
    /// ```
    /// use wsmachine::handshake::{Incoming, Request};
    ///
    /// let request = http::Request::get("/chat")
    ///     .header("host", "example.com")
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "Upgrade")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "13")
    ///     .body(())?;
    /// let Incoming::WebSocket(upgrade) = Request::from_http(&request).classify()? else {
    ///     panic!("an upgrade");
    /// };
    /// let (response, _negotiated) = upgrade.accept().into_http_response()?;
    /// assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    /// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn from_http<B>(request: &http::Request<B>) -> Request {
        let target = request.uri().path_and_query().map_or("/".to_string(), ToString::to_string);
        let minor_version = u8::from(
            request.version() != http::Version::HTTP_10
                && request.version() != http::Version::HTTP_09,
        );
        Request::from_parts(
            request.method().as_str().to_string(),
            target,
            minor_version,
            headers_from(request.headers()),
        )
    }
}

impl UpgradeRequest {
    /// Validates a request an HTTP stack has parsed as a WebSocket upgrade (§4.2.1); a request
    /// that does not ask for one is plain HTTP, reported as `Ok(None)`.
    pub fn from_http<B>(
        request: &http::Request<B>,
    ) -> Result<Option<UpgradeRequest>, RequestError> {
        match Request::from_http(request).classify()? {
            Incoming::WebSocket(upgrade) => Ok(Some(upgrade)),
            Incoming::Http(_) => Ok(None),
        }
    }
}

impl Accept<'_> {
    /// The 101 response as an `http::Response`, and what it negotiates; fails if the
    /// subprotocol or an extension was not offered.
    pub fn into_http_response(self) -> Result<(http::Response<()>, Negotiated), AcceptError> {
        let (headers, negotiated) = self.finish()?;
        let mut response = http::Response::new(());
        *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
        *response.headers_mut() = header_map(&headers);
        Ok((response, negotiated))
    }
}

impl Rejection {
    /// The rejection as an `http::Response` with its body.
    ///
    /// ```
    /// use wsmachine::handshake::RequestError;
    ///
    /// let response = RequestError::UnsupportedVersion.rejection().to_http_response();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// ```
    #[must_use]
    pub fn to_http_response(&self) -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(self.body().to_vec());
        *response.status_mut() =
            http::StatusCode::from_u16(self.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
        *response.headers_mut() = header_map(self.headers());
        response
    }
}

impl ClientHandshake {
    /// The request as an `http::Request` for an HTTP client to send, with a fresh key from
    /// `random`, and the handshake waiting for the answer.
    ///
    /// ```
    /// use wsmachine::handshake::{accept_key, ClientHandshake};
    ///
    /// let (request, pending) = ClientHandshake::new("ws://example.com/chat")?
    ///     .protocol("chat")
    ///     .into_http_request(&mut |buf: &mut [u8]| buf.fill(1))?;
    /// assert_eq!(request.uri(), "ws://example.com/chat");
    /// assert_eq!(request.headers()["sec-websocket-version"], "13");
    ///
    /// let response = http::Response::builder()
    ///     .status(101)
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "upgrade")
    ///     .header("sec-websocket-accept", accept_key(pending.key().as_bytes()))
    ///     .header("sec-websocket-protocol", "chat")
    ///     .body(())?;
    /// let accepted = pending.check_http_response(&response)?;
    /// assert_eq!(accepted.negotiated().protocol(), Some("chat"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_http_request(
        self,
        random: &mut impl RandomSource,
    ) -> Result<(http::Request<()>, PendingHandshake), RequestBuildError> {
        let uri = self.uri_string();
        let (headers, pending) = self.finish(random)?;
        let mut request = http::Request::new(());
        *request.uri_mut() = uri.parse().map_err(|_| RequestBuildError::InvalidUri)?;
        *request.headers_mut() = header_map(&headers);
        Ok((request, pending))
    }
}

impl PendingHandshake {
    /// Checks a response an HTTP client has received, as [`read_response`] does for bytes: a
    /// status other than 101 is [`ResponseError::Rejected`] (without a body, which the HTTP
    /// client keeps).
    ///
    /// [`read_response`]: PendingHandshake::read_response
    pub fn check_http_response<B>(
        &self,
        response: &http::Response<B>,
    ) -> Result<Accepted, ResponseError> {
        let headers = headers_from(response.headers());
        if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(rejection(response.status().as_u16(), headers, Vec::new()));
        }
        self.validate(headers)
    }
}
