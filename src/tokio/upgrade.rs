//! WebSockets from hyper 1.x (and so axum) servers (feature `hyper`): the request is checked
//! by the handshake layer, the 101 goes back as hyper's response, and the connection runs on
//! hyper's upgraded stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::{now, Answer, Error, WebSocket};
use crate::handshake::{Header, Rejection, UpgradeRequest};
use crate::{Config, Connection, Role};

/// hyper's upgraded connection, as the tokio adapter reads and writes it.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// Answers a WebSocket upgrade that hyper (or axum) received: returns the 101 response to send
/// and the [`Upgrading`] future that resolves to the [`WebSocket`] once hyper has switched
/// protocols; or, for a request that is not a valid upgrade, the response that refuses it
/// (400, 405, 426, ... as the handshake layer decides). `config` applies as on
/// [`Connection::accept`], permessage-deflate included.
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
/// subprotocols): accept, pick a subprotocol, or refuse with a response.
pub fn upgrade_with<B, R: From<Bytes>>(
    mut request: http::Request<B>,
    config: Config,
    decide: impl FnOnce(&UpgradeRequest) -> Answer,
) -> Result<(http::Response<R>, Upgrading), http::Response<R>> {
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
    let protocol = match decide(&upgrade) {
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

impl Future for Upgrading {
    type Output = Result<WebSocket<Upgraded>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx))
            .map_err(|error| Error::Io(io::Error::other(error)))?;
        let connection = self.connection.take().expect("Upgrading polled after it completed");
        Poll::Ready(Ok(WebSocket::new(TokioIo::new(upgraded), connection)))
    }
}
