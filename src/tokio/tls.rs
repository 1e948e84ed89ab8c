//! `wss://` for [`connect`](super::connect) (feature `rustls`): TLS by rustls with the ring
//! provider, trusting the Mozilla root certificates that `webpki-roots` compiles in.
//!
//! Compiled-in roots work the same on every machine, a container without a CA store
//! included, and need no platform code; a program that must trust what the operating system
//! trusts (an enterprise CA, say) brings its own `rustls::ClientConfig` to
//! [`connect_tls`](super::connect_tls).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::{Error, ErrorKind};

/// The stream [`connect`](super::connect) opens: plain TCP for `ws://`, TLS over TCP for
/// `wss://`; and with the feature `http2`, a stream of an HTTP/2 connection that
/// `http2::Connector` opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
    /// `wss://` as a stream of a shared HTTP/2 connection (RFC 8441).
    #[cfg(feature = "http2")]
    Http2(Box<super::http2::Stream>),
}

/// The client configuration `connect` uses for `wss://`: webpki's roots, built once.
pub(crate) fn default_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }))
}

/// TLS over `tcp` to `host`, with `config`.
pub(super) async fn handshake(
    tcp: TcpStream,
    host: &str,
    config: Arc<ClientConfig>,
) -> Result<Stream, Error> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|error| Error::from(ErrorKind::Url(format!("{host}: {error}"))))?;
    let tls = TlsConnector::from(config).connect(name, tcp).await?;
    Ok(Stream::Tls(Box::new(tls)))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            #[cfg(feature = "http2")]
            Stream::Http2(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            #[cfg(feature = "http2")]
            Stream::Http2(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            #[cfg(feature = "http2")]
            Stream::Http2(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            #[cfg(feature = "http2")]
            Stream::Http2(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
