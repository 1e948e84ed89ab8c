//! The opening handshake (RFC 6455 §4): HTTP/1.1 upgrade requests and responses, server and
//! client, sans-IO.
//!
//! The server reads a [`Request`] from whatever bytes arrived, [`classifies`](Request::classify)
//! it as a WebSocket [`UpgradeRequest`] or a plain HTTP request (one port can serve both), then
//! writes either the 101 response through [`UpgradeRequest::accept`] or a [`Rejection`]. Every
//! invalid request is a typed [`RequestError`] with the status to answer and a ready rejection.
//! Bytes that follow the request head are never consumed: they are the client's first frames.

mod client;
mod extension;
mod h2;
mod http1;
#[cfg(feature = "http")]
mod http_interop;
mod key;
mod offer;
mod server;
mod tokens;

pub use client::{
    Accepted, ClientHandshake, PendingHandshake, RequestBuildError, ResponseError, UriError, WsUri,
};
pub use extension::{
    format_extensions, parse_extensions, Extension, ExtensionHeaderError, ExtensionParam,
};
pub use h2::{
    h2_check_response, h2_connect_fields, H2Request, H2RequestError, H2Response, H2ResponseError,
};
pub use http1::{HeadLimits, Header, InvalidHeader};
pub use key::{accept_key, generate_key, is_valid_key};
pub use offer::Offer;
pub use server::{
    Accept, AcceptError, Incoming, Negotiated, Rejection, Request, RequestError, UpgradeRequest,
};
