//! WebSockets over HTTP/2 from the client side (RFC 8441, feature `http2`): one HTTP/2
//! connection (TLS with ALPN `h2`, or cleartext with prior knowledge) carries any number of
//! WebSockets, each on a stream of its own opened with an extended CONNECT, which saves a TCP
//! and a TLS handshake per WebSocket. The server side is [`upgrade`](super::upgrade) on a
//! hyper HTTP/2 server.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{now, Error, ErrorKind, WebSocket};
use crate::handshake::{ClientHandshake, H2ResponseError, Header, Rejection};
use crate::{Config, Connection, Role};

/// How much a server may send on one stream before this end reads it: HTTP/2's default,
/// 64 KiB, would hold a WebSocket's echo of a few large messages back until the
/// application reads, and a sender that waits for room while the peer waits for it can then
/// deadlock; 1 MiB is hyper's order of magnitude (it takes 2 MiB), and the most a stream
/// buffers unread.
const STREAM_WINDOW: u32 = 1 << 20;
/// The same for all the connection's streams together.
const CONNECTION_WINDOW: u32 = 4 << 20;

/// The client side of one HTTP/2 connection, on which WebSockets open as streams. Cloning it
/// is cheap and shares the connection.
///
/// ```no_run
/// # async fn run(tls: tokio::net::TcpStream) -> Result<(), wsmachine::tokio::Error> {
/// use wsmachine::tokio::http2::Client;
///
/// // `tls`: a stream that negotiated ALPN `h2` (or cleartext HTTP/2 with prior knowledge).
/// let h2 = Client::handshake(tls).await?;
/// let mut chat = h2.connect("wss://example.com/chat").await?;
/// let mut feed = h2.connect("wss://example.com/feed").await?; // the same TCP and TLS
/// chat.send("hello".into()).await?;
/// # let _ = feed.recv().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    send_request: h2::client::SendRequest<Bytes>,
}

impl Client {
    /// Starts HTTP/2 over `io`, drives the connection in a task of its own (`tokio::spawn`),
    /// and returns once the server's SETTINGS arrived, so that
    /// [`accepts_websockets`](Client::accepts_websockets) knows the answer.
    pub async fn handshake<S>(io: S) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send_request, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake(io)
            .await
            .map_err(h2_error)?;
        let mut ping_pong = connection.ping_pong().expect("taken once, here");
        tokio::spawn(async move {
            // Its errors reach every stream, where they are reported.
            let _ = connection.await;
        });
        // A server's first frame is its SETTINGS (RFC 9113 §3.4): the answer to a PING comes
        // after it.
        ping_pong.ping(h2::Ping::opaque()).await.map_err(h2_error)?;
        Ok(Client { send_request })
    }

    /// Connects to the host of `url` (`wss://`) over TLS offering ALPN `h2` (and `http/1.1`,
    /// so that an HTTP/1.1 server answers rather than refusing the handshake), trusting the
    /// same roots as [`connect`](super::connect) (feature `rustls`), and starts HTTP/2 on it;
    /// then [`connect`](Client::connect) opens WebSockets on that one connection. A server
    /// that does not speak HTTP/2, or does not take WebSockets over it, is
    /// [`ErrorKind::NoExtendedConnect`]: open them over HTTP/1.1 with
    /// [`tokio::connect`](super::connect) instead.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), wsmachine::tokio::Error> {
    /// use wsmachine::tokio::{http2::Client, ErrorKind};
    ///
    /// match Client::dial("wss://example.com/").await {
    ///     Ok(h2) => {
    ///         let mut feed = h2.connect("wss://example.com/feed").await?;
    ///         let mut chat = h2.connect("wss://example.com/chat").await?; // the same connection
    ///         feed.send("hello".into()).await?;
    ///         # let _ = chat.recv().await;
    ///     }
    ///     Err(error) if matches!(error.kind(), ErrorKind::NoExtendedConnect) => {
    ///         let mut feed = wsmachine::tokio::connect("wss://example.com/feed").await?;
    ///         feed.send("hello".into()).await?;
    ///     }
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "rustls")]
    pub async fn dial(url: &str) -> Result<Client, Error> {
        Client::dial_tls(url, super::tls::default_config()).await
    }

    /// [`dial`](Client::dial) with the caller's rustls configuration (its roots, its client
    /// certificate); its ALPN list is replaced by `h2` and `http/1.1`.
    #[cfg(feature = "rustls")]
    pub async fn dial_tls(
        url: &str,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    ) -> Result<Client, Error> {
        let uri = crate::handshake::WsUri::parse(url)
            .map_err(|error| Error::from(ErrorKind::Url(error.to_string())))?;
        if !uri.is_secure() {
            return Err(Error::from(ErrorKind::Url(format!(
                "{url}: HTTP/2 is chosen in the TLS handshake, so dialing needs wss:// \
                 (for cleartext HTTP/2 with prior knowledge, use Client::handshake)"
            ))));
        }
        let mut config = (*config).clone();
        // `http/1.1` too: a server that knows only that may refuse the handshake otherwise
        // (RFC 7301 §3.2), and the answer to give is NoExtendedConnect, not a TLS error.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect((uri.host(), uri.port())).await?;
        tcp.set_nodelay(true)?;
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(uri.host().to_owned())
            .map_err(|error| Error::from(ErrorKind::Url(format!("{}: {error}", uri.host()))))?;
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(Error::from(ErrorKind::NoExtendedConnect));
        }
        let client = Client::handshake(tls).await?;
        if !client.accepts_websockets() {
            return Err(Error::from(ErrorKind::NoExtendedConnect));
        }
        Ok(client)
    }

    /// Whether the server sent `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3): if not,
    /// WebSockets need a connection over HTTP/1.1.
    #[must_use]
    pub fn accepts_websockets(&self) -> bool {
        self.send_request.is_extended_connect_protocol_enabled()
    }

    /// Opens a WebSocket to `url` on a new stream with the default [`Config`].
    pub async fn connect(&self, url: &str) -> Result<WebSocket<Stream>, Error> {
        self.connect_with(handshake_for(url)?, Config::default()).await
    }

    /// Opens a WebSocket on a new stream with `handshake` (subprotocols, `Origin`, headers) and
    /// `config` (permessage-deflate is offered when it is set); returns once the server
    /// accepted. [`ErrorKind::NoExtendedConnect`] if the server does not take WebSockets over
    /// HTTP/2.
    pub async fn connect_with(
        &self,
        handshake: ClientHandshake,
        config: Config,
    ) -> Result<WebSocket<Stream>, Error> {
        let (stream, connection) = self.open(handshake, config).await?;
        Ok(WebSocket::new(stream, connection))
    }

    /// The extended CONNECT for `handshake` on a new stream, checked: the stream and the
    /// open connection.
    async fn open(
        &self,
        handshake: ClientHandshake,
        config: Config,
    ) -> Result<(Stream, Connection), Error> {
        if !self.accepts_websockets() {
            return Err(Error::from(ErrorKind::NoExtendedConnect));
        }
        #[cfg(feature = "deflate")]
        let handshake = match config.deflate {
            Some(deflate) if !handshake.offers(crate::extensions::deflate::EXTENSION_NAME) => {
                handshake.extension(deflate.offer())
            }
            _ => handshake,
        };
        let request = extended_connect(&handshake)?;
        let mut send_request = self.send_request.clone().ready().await.map_err(h2_error)?;
        let (response, send) = send_request.send_request(request, false).map_err(h2_error)?;
        let (parts, recv) = response.await.map_err(h2_error)?.into_parts();
        let fields = parts.headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes()));
        let negotiated = handshake.h2_check_response(parts.status.as_u16(), fields).map_err(
            |error| match error {
                H2ResponseError::Rejected(status) => {
                    let mut rejection = Rejection::new(status);
                    for (name, value) in &parts.headers {
                        if let Ok(header) = Header::new(name.as_str(), value.as_bytes()) {
                            rejection = rejection.with_header(header);
                        }
                    }
                    Error::from(ErrorKind::Rejected(rejection))
                }
                other => Error::from(ErrorKind::Http2Response(other)),
            },
        )?;
        let connection = Connection::open(Role::Client, negotiated, config, now());
        Ok((Stream { send, recv, received: Bytes::new() }, connection))
    }
}

/// Opens WebSockets to one server over HTTP/2 when it allows, and over HTTP/1.1 when it does
/// not, behind one type (feature `rustls`): [`dial`](Connector::dial) tries HTTP/2 once, and
/// every [`connect`](Connector::connect) then opens a stream of that connection, or a TLS
/// connection of its own if the server answered with HTTP/1.1.
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine::tokio::Error> {
/// use wsmachine::tokio::http2::Connector;
///
/// let server = Connector::dial("wss://example.com/").await?;
/// let mut feed = server.connect("wss://example.com/feed").await?;
/// let mut chat = server.connect("wss://example.com/chat").await?;
/// println!("over HTTP/2: {}", server.is_http2()); // one TLS connection for both if true
/// feed.send("hello".into()).await?;
/// # let _ = chat.recv().await;
/// # Ok(()) }
/// ```
#[cfg(feature = "rustls")]
#[derive(Debug, Clone)]
pub struct Connector {
    /// The HTTP/2 connection, if the server took WebSockets over it.
    http2: Option<Client>,
    tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
}

#[cfg(feature = "rustls")]
impl Connector {
    /// Tries HTTP/2 with the host of `url` ([`Client::dial`]); any other answer than an
    /// HTTP/2 server that takes WebSockets makes this connector open HTTP/1.1 connections.
    pub async fn dial(url: &str) -> Result<Connector, Error> {
        Connector::dial_tls(url, super::tls::default_config()).await
    }

    /// [`dial`](Connector::dial) with the caller's rustls configuration.
    pub async fn dial_tls(
        url: &str,
        tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    ) -> Result<Connector, Error> {
        let http2 = match Client::dial_tls(url, tls.clone()).await {
            Ok(client) => Some(client),
            Err(error) if matches!(error.kind(), ErrorKind::NoExtendedConnect) => None,
            Err(error) => return Err(error),
        };
        Ok(Connector { http2, tls })
    }

    /// Whether WebSockets go over the one HTTP/2 connection.
    #[must_use]
    pub fn is_http2(&self) -> bool {
        self.http2.is_some()
    }

    /// Opens a WebSocket to `url` with the default [`Config`].
    pub async fn connect(&self, url: &str) -> Result<WebSocket<super::Stream>, Error> {
        self.connect_with(handshake_for(url)?, Config::default()).await
    }

    /// Opens a WebSocket with `handshake` and `config`: a stream of the HTTP/2 connection, or
    /// a TLS connection of its own over HTTP/1.1.
    pub async fn connect_with(
        &self,
        handshake: ClientHandshake,
        config: Config,
    ) -> Result<WebSocket<super::Stream>, Error> {
        match &self.http2 {
            Some(client) => {
                let (stream, connection) = client.open(handshake, config).await?;
                Ok(WebSocket::new(super::Stream::Http2(Box::new(stream)), connection))
            }
            None => {
                let uri = handshake.uri();
                let tcp = super::dial_uri(uri).await?;
                let stream = if uri.is_secure() {
                    super::tls::handshake(tcp, uri.host(), self.tls.clone()).await?
                } else {
                    super::Stream::Plain(tcp)
                };
                super::connect_with(stream, handshake, config).await
            }
        }
    }
}

/// A handshake for `url`, or why it cannot be one.
fn handshake_for(url: &str) -> Result<ClientHandshake, Error> {
    ClientHandshake::new(url).map_err(|error| Error::from(ErrorKind::Url(error.to_string())))
}

/// The extended CONNECT for `handshake`, as the h2 crate takes it: the pseudo-header fields
/// in the method, the URI and the `Protocol` extension.
fn extended_connect(handshake: &ClientHandshake) -> Result<http::Request<()>, Error> {
    let fields =
        handshake.h2_fields().map_err(|error| Error::from(ErrorKind::Url(error.to_string())))?;
    let field = |name: &str| {
        fields.iter().find(|(field, _)| field == name).map_or("", |(_, value)| value.as_str())
    };
    let uri = format!("{}://{}{}", field(":scheme"), field(":authority"), field(":path"));
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .version(http::Version::HTTP_2)
        .uri(uri)
        .extension(h2::ext::Protocol::from(field(":protocol")));
    for (name, value) in fields.iter().filter(|(name, _)| !name.starts_with(':')) {
        request = request.header(name.as_str(), value.as_str());
    }
    request.body(()).map_err(|error| Error::from(ErrorKind::Url(error.to_string())))
}

/// One HTTP/2 stream as the byte stream a [`WebSocket`] runs on: reads take the DATA frames
/// the server sent (and give their room back to its flow-control window), writes send DATA
/// frames as the window allows, and shutting down ends the stream.
#[derive(Debug)]
pub struct Stream {
    send: h2::SendStream<Bytes>,
    recv: h2::RecvStream,
    /// What was received and not yet read.
    received: Bytes,
}

impl Stream {
    /// Resets the stream (`RST_STREAM` with `CANCEL`): the WebSocket ends at once on both
    /// sides with no closing handshake, and the other streams of the connection go on.
    pub fn reset(&mut self) {
        self.send.send_reset(h2::Reason::CANCEL);
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.received.is_empty() {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.received = data,
                Some(Err(error)) => return Poll::Ready(Err(into_io(error))),
                None => return Poll::Ready(Ok(())), // the server ended the stream: EOF
            }
        }
        let len = this.received.len().min(buf.remaining());
        buf.put_slice(&this.received[..len]);
        this.received.advance(len);
        this.recv.flow_control().release_capacity(len).map_err(into_io)?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        if bytes.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let send = &mut self.send;
        send.reserve_capacity(bytes.len());
        let mut room = send.capacity();
        while room == 0 {
            room = match ready!(send.poll_capacity(cx)) {
                Some(Ok(room)) => room,
                Some(Err(error)) => return Poll::Ready(Err(into_io(error))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            };
        }
        let len = room.min(bytes.len());
        send.send_data(Bytes::copy_from_slice(&bytes[..len]), false).map_err(into_io)?;
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection's task writes what was sent.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // END_STREAM, the HTTP/2 counterpart of closing TCP (RFC 8441 §5); sending it twice is
        // refused by h2 and changes nothing.
        let _ = self.send.send_data(Bytes::new(), true);
        Poll::Ready(Ok(()))
    }
}

/// An h2 error as the adapter's error: I/O errors as they are, the rest wrapped.
fn h2_error(error: h2::Error) -> Error {
    Error::from(ErrorKind::Io(into_io(error)))
}

fn into_io(error: h2::Error) -> io::Error {
    if error.is_io() {
        return error.into_io().expect("an I/O error");
    }
    io::Error::other(error)
}
