//! WebSockets from hyper 1.x (and so axum) servers (feature `hyper`): the request is checked
//! by the handshake layer, the 101 goes back as hyper's response, and the connection runs on
//! hyper's upgraded stream. With the `http2` feature, an HTTP/2 extended CONNECT (RFC 8441)
//! is answered the same way, with a 200, and the connection runs on the HTTP/2 stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::{now, Answer, Error, WebSocket};
use crate::handshake::{Header, Offer, Rejection, UpgradeRequest};
use crate::{Config, Connection, Role};

/// hyper's upgraded connection, as the tokio adapter reads and writes it.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// Answers a WebSocket upgrade that hyper (or axum) received: returns the 101 response to send
/// and the [`Upgrading`] future that resolves to the [`WebSocket`] once hyper has switched
/// protocols; or, for a request that is not a valid upgrade, the response that refuses it
/// (400, 405, 426, ... as the handshake layer decides). `config` applies as on
/// [`Connection::accept`], permessage-deflate included.
///
/// With the `http2` feature, an HTTP/2 extended CONNECT with `:protocol websocket` (RFC 8441;
/// hyper's HTTP/2 server must send `SETTINGS_ENABLE_CONNECT_PROTOCOL`, see
/// `hyper::server::conn::http2::Builder::enable_connect_protocol`) is accepted with a 200
/// instead, and the WebSocket runs on the request's stream: the same handler serves both.
///
/// ```no_run
/// # async fn handler(request: http::Request<()>) -> http::Response<http_body_util::Full<bytes::Bytes>> {
/// match wsmachine::tokio::upgrade(request, Default::default()) {
///     Ok((response, upgrading)) => {
///         tokio::spawn(async move {
///             let mut ws = upgrading.await?;
///             while let Some(message) = ws.recv().await {
///                 ws.send(message?).await?;
///             }
///             Ok::<_, wsmachine::tokio::Error>(())
///         });
///         response
///     }
///     Err(refusal) => refusal,
/// }
/// # }
/// ```
pub fn upgrade<B, R: From<Bytes>>(
    request: http::Request<B>,
    config: Config,
) -> Result<(http::Response<R>, Upgrading), http::Response<R>> {
    upgrade_with(request, config, |_| Answer::accept())
}

/// [`upgrade`], letting `decide` see the request first (its path, `Origin`, offered
/// subprotocols, over either HTTP version): accept, pick a subprotocol, or refuse with a
/// response.
pub fn upgrade_with<B, R: From<Bytes>>(
    mut request: http::Request<B>,
    config: Config,
    decide: impl FnOnce(&Offer<'_>) -> Answer,
) -> Result<(http::Response<R>, Upgrading), http::Response<R>> {
    #[cfg(feature = "http2")]
    if request.version() == http::Version::HTTP_2 {
        return http2::upgrade_with(request, config, decide);
    }
    let upgrade = match UpgradeRequest::from_http(&request) {
        Ok(Some(upgrade)) => upgrade,
        Ok(None) => {
            let refusal = Rejection::new(426)
                .with_header(Header::new("Upgrade", "websocket").expect("a valid header"))
                .with_header(Header::new("Sec-WebSocket-Version", "13").expect("a valid header"));
            return Err(refused(&refusal));
        }
        Err(error) => return Err(refused(&error.rejection())),
    };
    let protocol = match decide(&Offer::Http1(&upgrade)) {
        Answer::Accept { protocol } => protocol,
        Answer::Reject(refusal) => return Err(refused(&refusal)),
    };
    let mut accept = upgrade.accept();
    if let Some(protocol) = &protocol {
        accept = accept.protocol(protocol);
    }
    #[cfg(feature = "deflate")]
    if let Some(deflate) = &config.deflate {
        accept = accept.with_deflate(deflate);
    }
    let (response, negotiated) = match accept.into_http_response() {
        Ok(accepted) => accepted,
        Err(error) => {
            let refusal = Rejection::new(500).with_body(error.to_string());
            return Err(refused(&refusal));
        }
    };
    let connection = Connection::open(Role::Server, negotiated, config, now());
    let on_upgrade = hyper::upgrade::on(&mut request);
    let response = response.map(|()| R::from(Bytes::new()));
    Ok((response, Upgrading { on_upgrade, connection: Some(connection) }))
}

/// A refusal as the HTTP stack's response.
fn refused<R: From<Bytes>>(refusal: &Rejection) -> http::Response<R> {
    refusal.to_http_response().map(|body| R::from(Bytes::from(body)))
}

/// The [`WebSocket`] of an accepted upgrade, once hyper has sent the 101 and handed over the
/// connection: await it (in a task of its own, since hyper sends the response only after the
/// handler returns it).
#[derive(Debug)]
#[must_use = "the WebSocket comes from awaiting this"]
pub struct Upgrading {
    on_upgrade: OnUpgrade,
    connection: Option<Connection>,
}

impl Upgrading {
    /// The upgraded stream and the open [`Connection`] apart, for a program that drives
    /// connections itself with the sans-IO API (its own event loop or room, as the chat
    /// example's HTTPS front end does) rather than through [`WebSocket`].
    pub async fn into_parts(mut self) -> Result<(Upgraded, Connection), Error> {
        let upgraded =
            (&mut self.on_upgrade).await.map_err(|error| Error::from(io::Error::other(error)))?;
        let connection = self.connection.take().expect("taken only here or by poll");
        Ok((TokioIo::new(upgraded), connection))
    }
}

impl Future for Upgrading {
    type Output = Result<WebSocket<Upgraded>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx))
            .map_err(|error| Error::from(io::Error::other(error)))?;
        let connection = self.connection.take().expect("Upgrading polled after it completed");
        Poll::Ready(Ok(WebSocket::new(TokioIo::new(upgraded), connection)))
    }
}

/// The HTTP/2 side: an extended CONNECT (RFC 8441 §4, §5) checked by the handshake layer.
#[cfg(feature = "http2")]
mod http2 {
    use bytes::Bytes;

    use super::{now, refused, Answer, Upgrading};
    use crate::handshake::{H2Request, Offer, Rejection};
    use crate::{Config, Connection, Role};

    /// [`upgrade_with`](super::upgrade_with) for a request that came over HTTP/2.
    pub(super) fn upgrade_with<B, R: From<Bytes>>(
        mut request: http::Request<B>,
        config: Config,
        decide: impl FnOnce(&Offer<'_>) -> Answer,
    ) -> Result<(http::Response<R>, Upgrading), http::Response<R>> {
        let offer = match validate(&request) {
            Ok(offer) => offer,
            Err(refusal) => return Err(refused(&refusal)),
        };
        let protocol = match decide(&Offer::Http2(&offer)) {
            Answer::Accept { protocol } => protocol,
            Answer::Reject(refusal) => return Err(refused(&refusal)),
        };
        #[cfg(feature = "deflate")]
        let extensions: Vec<_> = config
            .deflate
            .as_ref()
            .and_then(|deflate| deflate.accept(offer.extensions()))
            .map(|(extension, _)| extension)
            .into_iter()
            .collect();
        #[cfg(not(feature = "deflate"))]
        let extensions = Vec::new();
        let accepted = match offer.accept(protocol.as_deref(), extensions) {
            Ok(accepted) => accepted,
            Err(error) => return Err(refused(&Rejection::new(500).with_body(error.to_string()))),
        };
        let mut response = http::Response::builder().status(accepted.status);
        for (name, value) in &accepted.fields {
            response = response.header(name.as_str(), value.as_str());
        }
        let response = match response.body(R::from(Bytes::new())) {
            Ok(response) => response,
            Err(error) => return Err(refused(&Rejection::new(500).with_body(error.to_string()))),
        };
        let connection = Connection::open(Role::Server, accepted.negotiated, config, now());
        let on_upgrade = hyper::upgrade::on(&mut request);
        Ok((response, Upgrading { on_upgrade, connection: Some(connection) }))
    }

    /// The request's fields as the handshake layer reads them: hyper keeps the pseudo-header
    /// fields in the method, the URI and the `Protocol` extension.
    fn validate<B>(request: &http::Request<B>) -> Result<H2Request, Rejection> {
        let uri = request.uri();
        let protocol = request.extensions().get::<hyper::ext::Protocol>();
        let path = uri.path_and_query().map_or("", http::uri::PathAndQuery::as_str);
        let mut fields: Vec<(&str, &[u8])> = vec![
            (":method", request.method().as_str().as_bytes()),
            (":scheme", uri.scheme_str().unwrap_or("").as_bytes()),
            (":authority", uri.authority().map_or("", http::uri::Authority::as_str).as_bytes()),
            (":path", path.as_bytes()),
        ];
        if let Some(protocol) = protocol {
            fields.push((":protocol", protocol.as_str().as_bytes()));
        }
        fields.extend(
            request.headers().iter().map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        H2Request::validate(fields).map_err(|error| {
            let refusal = Rejection::new(error.status()).with_body(error.to_string());
            if error.status() == 426 {
                refusal.with_header(
                    crate::handshake::Header::new("sec-websocket-version", "13")
                        .expect("a valid header"),
                )
            } else {
                refusal
            }
        })
    }
}
