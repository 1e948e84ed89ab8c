//! WebSockets over HTTP/2 (RFC 8441): our client (`wsmachine::tokio::http2::Client`) against a
//! hyper server that answers with `wsmachine::tokio::upgrade_with`, over cleartext HTTP/2 on
//! loopback TCP: many WebSockets on one connection, each message on its own stream, a stream
//! reset that ends one WebSocket only, the fall-back signal when the server does not enable
//! the extended CONNECT, refusals, and HTTP/1.1 upgrades on the same port.

#![cfg(feature = "http2")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;
use wsmachine::frame::CloseCode;
use wsmachine::handshake::{ClientHandshake, Offer, Rejection};
use wsmachine::tokio::http2::Client;
use wsmachine::tokio::{upgrade_with, Answer, ErrorKind};
use wsmachine::{Config, Message};

/// A server's view of the test: TCP connections accepted, and one line per WebSocket that
/// ended (how) or request decided (over which HTTP version).
struct Server {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    reports: mpsc::UnboundedReceiver<String>,
}

/// Serves HTTP/1.1 and HTTP/2 on one port (hyper-util's auto builder), every WebSocket
/// echoing; `enable_connect` sends `SETTINGS_ENABLE_CONNECT_PROTOCOL`.
async fn serve(enable_connect: bool, config: Config) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let (report, reports) = mpsc::unbounded_channel();
    let accepted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, Ordering::SeqCst);
            let report = report.clone();
            let service = hyper::service::service_fn(move |request| {
                let report = report.clone();
                async move { Ok::<_, Infallible>(answer(request, config, report)) }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if enable_connect {
                builder.http2().enable_connect_protocol();
            }
            tokio::spawn(async move {
                let _ = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).await;
            });
        }
    });
    Server { address, connections, reports }
}

/// The handler: refuses one origin, picks the `echo` subprotocol when offered, and echoes.
fn answer(
    request: http::Request<hyper::body::Incoming>,
    config: Config,
    report: mpsc::UnboundedSender<String>,
) -> http::Response<Full<Bytes>> {
    let decided = report.clone();
    let decide = move |offer: &Offer<'_>| {
        let _ = decided.send(format!("request over HTTP/{}", if offer.is_http2() { 2 } else { 1 }));
        if offer.origin() == Some("http://evil.example") {
            Answer::Reject(Rejection::new(403))
        } else if offer.protocols().iter().any(|p| p == "echo") {
            Answer::accept_protocol("echo")
        } else {
            Answer::accept()
        }
    };
    match upgrade_with(request, config, decide) {
        Ok((response, upgrading)) => {
            tokio::spawn(async move {
                let mut ws = upgrading.await.unwrap();
                let outcome = loop {
                    match ws.recv().await {
                        Some(Ok(message)) if message.is_data() => {
                            if let Err(error) = ws.send(message).await {
                                break format!("error: {error}");
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(error)) => break format!("error: {error}"),
                        None => break format!("ended, clean: {}", ws.closed().unwrap().clean),
                    }
                };
                let _ = report.send(outcome);
            });
            response
        }
        Err(refusal) => refusal,
    }
}

async fn client(address: SocketAddr) -> Client {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    Client::handshake(tcp).await.unwrap()
}

#[tokio::test]
async fn a_hundred_websockets_share_one_http2_connection_each_getting_its_own_messages() {
    let mut server = serve(true, Config::default()).await;
    let h2 = client(server.address).await;
    assert!(h2.accepts_websockets());
    let url = format!("ws://{}/echo", server.address);
    let sockets: Vec<_> = (0..100)
        .map(|i| {
            let (h2, url) = (h2.clone(), url.clone());
            tokio::spawn(async move {
                let mut ws = h2.connect(&url).await.unwrap();
                for j in 0..10 {
                    let text = format!("socket {i}, message {j}: {}", "x".repeat(i * j));
                    ws.send(Message::from(text.as_str())).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from(text.as_str()));
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                assert!(ws.closed().unwrap().clean);
            })
        })
        .collect();
    for socket in sockets {
        socket.await.unwrap();
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1, "one TCP connection for all");
    let mut requests = 0;
    let mut clean = 0;
    while requests < 100 || clean < 100 {
        match server.reports.recv().await.unwrap().as_str() {
            "request over HTTP/2" => requests += 1,
            "ended, clean: true" => clean += 1,
            other => panic!("unexpected: {other}"),
        }
    }
}

#[tokio::test]
async fn a_stream_reset_mid_message_ends_that_websocket_only() {
    let mut server = serve(true, Config::default()).await;
    let h2 = client(server.address).await;
    let url = format!("ws://{}/echo", server.address);
    let mut kept = h2.connect(&url).await.unwrap();
    let mut cut = h2.connect(&url).await.unwrap();
    // The first piece of a message whose end never comes, then the reset.
    let piece = wsmachine::Piece {
        kind: wsmachine::MessageKind::Binary,
        data: vec![1u8; 1000].into(),
        first: true,
        last: false,
    };
    cut.feed(Message::Piece(piece)).await.unwrap();
    cut.flush().await.unwrap();
    cut.get_mut().reset();
    let ended = loop {
        let report = server.reports.recv().await.unwrap();
        if !report.starts_with("request") {
            break report;
        }
    };
    assert!(ended.starts_with("error: I/O error"), "{ended}");
    kept.send("still here".into()).await.unwrap();
    assert_eq!(kept.recv().await.unwrap().unwrap(), Message::from("still here"));
    kept.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn without_the_setting_the_client_is_told_to_use_http1_and_that_works_on_the_same_port() {
    let mut server = serve(false, Config::default()).await;
    let h2 = client(server.address).await;
    assert!(!h2.accepts_websockets());
    let url = format!("ws://{}/echo", server.address);
    let refused = h2.connect(&url).await.unwrap_err();
    assert!(matches!(refused.kind(), ErrorKind::NoExtendedConnect), "{refused}");
    // The fall-back: HTTP/1.1 on a connection of its own, same port, same handler.
    let tcp = tokio::net::TcpStream::connect(server.address).await.unwrap();
    let handshake = ClientHandshake::new(&url).unwrap();
    let mut ws = wsmachine::tokio::connect_with(tcp, handshake, Config::default()).await.unwrap();
    ws.send("over HTTP/1.1".into()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("over HTTP/1.1"));
    assert_eq!(server.reports.recv().await.unwrap(), "request over HTTP/1");
}

#[tokio::test]
async fn the_handler_refuses_and_chooses_over_http2_as_over_http1() {
    let server = serve(true, Config::default()).await;
    let h2 = client(server.address).await;
    let url = format!("ws://{}/echo", server.address);
    let evil = ClientHandshake::new(&url).unwrap().origin("http://evil.example");
    match h2.connect_with(evil, Config::default()).await {
        Err(error) => match error.into_kind() {
            ErrorKind::Rejected(rejection) => assert_eq!(rejection.status(), 403),
            other => panic!("expected a 403, got {other:?}"),
        },
        other => panic!("expected a 403, got {other:?}"),
    }
    let echo = ClientHandshake::new(&url).unwrap().protocol("other").protocol("echo");
    let mut ws = h2.connect_with(echo, Config::default()).await.unwrap();
    assert_eq!(ws.negotiated().protocol(), Some("echo"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_is_negotiated_on_an_http2_stream() {
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    let server = serve(true, config).await;
    let h2 = client(server.address).await;
    let handshake = ClientHandshake::new(&format!("ws://{}/echo", server.address)).unwrap();
    let mut ws = h2.connect_with(handshake, config).await.unwrap();
    let names: Vec<&str> = ws.negotiated().extensions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["permessage-deflate"]);
    let text = "compress me over HTTP/2 ".repeat(200);
    ws.send(Message::from(text.as_str())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from(text.as_str()));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn batches_of_messages_flow_both_ways_within_http2_flow_control() {
    let server = serve(true, Config::default()).await;
    let h2 = client(server.address).await;
    let mut ws = h2.connect(&format!("ws://{}/echo", server.address)).await.unwrap();
    // 40 batches of 256 short messages (far more than the 64 KiB window HTTP/2 starts
    // with, so the client must give the server its room back as it reads), then 1.5 MB in
    // one batch: the server echoes while the client is still writing, which needs more room
    // than HTTP/2's default window on the client's side, or both would wait to write.
    let batches = [(16usize, 256usize); 40].into_iter().chain([(16_384, 96)]);
    for (round, (size, count)) in batches.enumerate() {
        let message = Message::Binary(vec![round as u8; size].into());
        for _ in 0..count {
            ws.feed(message.clone()).await.unwrap();
        }
        ws.flush().await.unwrap();
        for i in 0..count {
            let reply = tokio::time::timeout(std::time::Duration::from_secs(5), ws.recv())
                .await
                .unwrap_or_else(|_| panic!("batch {round}: echo {i} of {count} never came"));
            assert_eq!(reply.unwrap().unwrap(), message);
        }
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

/// Sends an extended CONNECT with these fields (beside the pseudo-header fields) and returns
/// the status and the response's fields, with h2 directly: requests our client would not send.
async fn raw_connect(
    address: SocketAddr,
    protocol: &str,
    fields: &[(&str, &str)],
) -> http::Response<()> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (send_request, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut ping_pong = connection.ping_pong().unwrap();
    tokio::spawn(connection);
    ping_pong.ping(h2::Ping::opaque()).await.unwrap(); // the server's SETTINGS are in
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{address}/echo"))
        .extension(h2::ext::Protocol::from(protocol));
    for (name, value) in fields {
        request = request.header(*name, *value);
    }
    let mut send_request = send_request.ready().await.unwrap();
    let (response, _stream) = send_request.send_request(request.body(()).unwrap(), false).unwrap();
    response.await.unwrap().map(|_| ())
}

#[tokio::test]
async fn extended_connects_the_handshake_layer_refuses_get_its_status() {
    let server = serve(true, Config::default()).await;
    let version = ("sec-websocket-version", "13");
    let ok = raw_connect(server.address, "websocket", &[version]).await;
    assert_eq!(ok.status(), 200);
    let old = raw_connect(server.address, "websocket", &[("sec-websocket-version", "8")]).await;
    assert_eq!(old.status(), 426);
    assert_eq!(old.headers()["sec-websocket-version"], "13");
    let missing = raw_connect(server.address, "websocket", &[]).await;
    assert_eq!(missing.status(), 426, "no version is not version 13 (RFC 6455 §4.4)");
    let other = raw_connect(server.address, "webtransport", &[version]).await;
    assert_eq!(other.status(), 400);
    let bad_list =
        raw_connect(server.address, "websocket", &[version, ("sec-websocket-protocol", "a b")])
            .await;
    assert_eq!(bad_list.status(), 400);
}

/// The same server over TLS, offering `alpn`; returns its address and a client configuration
/// that trusts its certificate.
#[cfg(feature = "rustls")]
async fn serve_tls(alpn: &[&[u8]]) -> (SocketAddr, Arc<rustls::ClientConfig>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let mut server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    server_config.alpn_protocols = alpn.iter().map(|name| name.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (report, _reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, report) = (acceptor.clone(), report.clone());
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.unwrap();
                let service = hyper::service::service_fn(move |request| {
                    let report = report.clone();
                    async move { Ok::<_, Infallible>(answer(request, Config::default(), report)) }
                });
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                let _ = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).unwrap();
    let client_config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    (address, Arc::new(client_config))
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn dial_opens_wss_websockets_on_one_tls_connection_or_says_to_use_http1() {
    let (address, trust) = serve_tls(&[b"h2", b"http/1.1"]).await;
    let url = format!("wss://localhost:{}/echo", address.port());
    let h2 = Client::dial_tls(&url, trust.clone()).await.unwrap();
    for text in ["one", "two", "three"] {
        let mut ws = h2.connect(&url).await.unwrap();
        ws.send(text.into()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from(text));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    }
    let cleartext = Client::dial_tls(&format!("ws://localhost:{}/", address.port()), trust).await;
    assert!(matches!(cleartext.unwrap_err().kind(), ErrorKind::Url(_)));

    // A server that speaks only HTTP/1.1: dialing says so, and HTTP/1.1 works.
    let (address, trust) = serve_tls(&[b"http/1.1"]).await;
    let url = format!("wss://localhost:{}/echo", address.port());
    let http1_only = Client::dial_tls(&url, trust.clone()).await.unwrap_err();
    assert!(matches!(http1_only.kind(), ErrorKind::NoExtendedConnect), "{http1_only}");
    let mut ws = wsmachine::tokio::connect_tls(&url, trust).await.unwrap();
    ws.send("over HTTP/1.1".into()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("over HTTP/1.1"));
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn a_connector_uses_http2_where_the_server_allows_and_http1_where_not() {
    use wsmachine::tokio::http2::Connector;
    for (alpn, over_http2) in
        [(&[&b"h2"[..], b"http/1.1"][..], true), (&[&b"http/1.1"[..]][..], false)]
    {
        let (address, trust) = serve_tls(alpn).await;
        let url = format!("wss://localhost:{}/echo", address.port());
        let connector = Connector::dial_tls(&url, trust).await.unwrap();
        assert_eq!(connector.is_http2(), over_http2);
        for text in ["first", "second"] {
            let mut ws = connector.connect(&url).await.unwrap();
            assert_eq!(matches!(ws.get_ref(), wsmachine::tokio::Stream::Http2(_)), over_http2);
            ws.send(text.into()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from(text));
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        }
    }
}
