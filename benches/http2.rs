//! WebSockets over HTTP/2 (RFC 8441) against HTTP/1.1, both over TLS on loopback, as a client
//! with many WebSockets to one server uses them:
//!
//! - the time to open 100 `wss://` WebSockets: over HTTP/2, one TCP and TLS connection and
//!   100 extended CONNECTs on it (`wsmachine::tokio::http2::Client`); over HTTP/1.1, 100 TCP
//!   and TLS connections, each with its upgrade (`wsmachine::tokio::connect_with`), opened
//!   concurrently;
//! - messages a second on one WebSocket: one HTTP/2 stream against one HTTP/1.1 connection,
//!   16-byte and 16 KiB messages sent in batches (256 messages or 64 KiB) and echoed.
//!
//! The server is hyper-util's auto builder (HTTP/1.1 and HTTP/2 on one port, ALPN `h2` and
//! `http/1.1`, `SETTINGS_ENABLE_CONNECT_PROTOCOL`) with `wsmachine::tokio::upgrade` echoing, on
//! a thread and runtime of its own; the client runs on another. TLS is rustls with a
//! self-signed certificate made at start (rcgen). Best and median of 10 rounds.
//! `cargo bench --bench http2 --features http2`; results in docs/benchmarks.md.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::ClientHandshake;
use wsmachine::tokio::http2::Client;
use wsmachine::{Config, Message};

const SOCKETS: usize = 100;
const ROUNDS: usize = 10;
const BATCH: usize = 256;

/// Starts the server on a thread of its own; returns its address and the certificate.
fn start_server() -> (SocketAddr, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(|request| async move {
                        Ok::<_, Infallible>(echo(request))
                    });
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    builder.http2().enable_connect_protocol();
                    let _ =
                        builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await;
                });
            }
        });
    });
    (address, certificate)
}

/// Upgrades (HTTP/1.1) or accepts the extended CONNECT (HTTP/2) and echoes every message.
fn echo(request: http::Request<hyper::body::Incoming>) -> http::Response<Full<Bytes>> {
    match wsmachine::tokio::upgrade(request, Config::default()) {
        Ok((response, upgrading)) => {
            tokio::spawn(async move {
                let Ok(mut ws) = upgrading.await else { return };
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() && ws.send(message).await.is_err() {
                        return;
                    }
                }
            });
            response
        }
        Err(refusal) => refusal,
    }
}

/// A TLS connector trusting `certificate` and offering `alpn`.
fn connector(certificate: &CertificateDer<'static>, alpn: &[u8]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate.clone()).unwrap();
    let mut config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn tls(address: SocketAddr, connector: &TlsConnector) -> TlsStream {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
}

/// One HTTP/2 connection and `SOCKETS` WebSockets on it.
async fn open_over_http2(
    address: SocketAddr,
    connector: &TlsConnector,
) -> Vec<wsmachine::tokio::WebSocket<wsmachine::tokio::http2::Stream>> {
    let h2 = Client::handshake(tls(address, connector).await).await.unwrap();
    assert!(h2.accepts_websockets());
    let url = format!("wss://localhost:{}/echo", address.port());
    let tasks: Vec<_> = (0..SOCKETS)
        .map(|_| {
            let (h2, url) = (h2.clone(), url.clone());
            tokio::spawn(async move { h2.connect(&url).await.unwrap() })
        })
        .collect();
    let mut sockets = Vec::with_capacity(SOCKETS);
    for task in tasks {
        sockets.push(task.await.unwrap());
    }
    sockets
}

/// `SOCKETS` TLS connections, each with its WebSocket upgrade.
async fn open_over_http1(
    address: SocketAddr,
    connector: &TlsConnector,
) -> Vec<wsmachine::tokio::WebSocket<TlsStream>> {
    let url = format!("wss://localhost:{}/echo", address.port());
    let tasks: Vec<_> = (0..SOCKETS)
        .map(|_| {
            let (connector, url) = (connector.clone(), url.clone());
            tokio::spawn(async move {
                let stream = tls(address, &connector).await;
                let handshake = ClientHandshake::new(&url).unwrap();
                wsmachine::tokio::connect_with(stream, handshake, Config::default()).await.unwrap()
            })
        })
        .collect();
    let mut sockets = Vec::with_capacity(SOCKETS);
    for task in tasks {
        sockets.push(task.await.unwrap());
    }
    sockets
}

/// Messages a second, echoed, on `ws`: batches of `BATCH` messages of `size` bytes, or of
/// 64 KiB if fewer (the adapter's high-water mark: a batch larger than what either side
/// buffers would have both wait to write), for about a second.
async fn echo_rate<S>(ws: &mut wsmachine::tokio::WebSocket<S>, size: usize) -> f64
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let message = Message::Binary(vec![7u8; size].into());
    let batch = (64 * 1024 / size).clamp(1, BATCH);
    let start = Instant::now();
    let mut echoed = 0usize;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..batch {
            ws.feed(message.clone()).await.unwrap();
        }
        ws.flush().await.unwrap();
        for _ in 0..batch {
            let reply = ws.recv().await.unwrap().unwrap();
            assert!(matches!(reply, Message::Binary(data) if data.len() == size));
        }
        echoed += batch;
    }
    echoed as f64 / start.elapsed().as_secs_f64()
}

fn summary(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2])
}

fn millis(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}

fn main() {
    let (address, certificate) = start_server();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let over_h2 = connector(&certificate, b"h2");
        let over_h1 = connector(&certificate, b"http/1.1");
        let (mut h2_times, mut h1_times) = (Vec::new(), Vec::new());
        for _ in 0..=ROUNDS {
            let start = Instant::now();
            let sockets = open_over_http2(address, &over_h2).await;
            h2_times.push(start.elapsed());
            for mut ws in sockets {
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            }
            let start = Instant::now();
            let sockets = open_over_http1(address, &over_h1).await;
            h1_times.push(start.elapsed());
            for mut ws in sockets {
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            }
        }
        // The first round of each warmed up the server's allocations.
        let (h2_best, h2_median) = summary(h2_times.split_off(1));
        let (h1_best, h1_median) = summary(h1_times.split_off(1));
        println!("Opening {SOCKETS} wss:// WebSockets, best / median of {ROUNDS} rounds:");
        println!("| over | best | median |");
        println!("|---|---|---|");
        println!(
            "| HTTP/2, one TLS connection | {:.1} ms | {:.1} ms |",
            millis(h2_best),
            millis(h2_median)
        );
        println!(
            "| HTTP/1.1, one TLS connection each | {:.1} ms | {:.1} ms |",
            millis(h1_best),
            millis(h1_median)
        );
        println!(
            "HTTP/2 takes {:.2}× less time (medians)",
            h1_median.as_secs_f64() / h2_median.as_secs_f64()
        );
        println!();
        println!(
            "Messages a second on one WebSocket, echoed, in batches of {BATCH} messages or 64 KiB:"
        );
        println!("| size | one HTTP/2 stream | one HTTP/1.1 connection | HTTP/2 ÷ HTTP/1.1 |");
        println!("|---|---|---|---|");
        for size in [16, 16 * 1024] {
            let mut on_h2 = open_over_http2(address, &over_h2).await.swap_remove(0);
            let h2_rate = echo_rate(&mut on_h2, size).await;
            let mut on_h1 = {
                let stream = tls(address, &over_h1).await;
                let url = format!("wss://localhost:{}/echo", address.port());
                let handshake = ClientHandshake::new(&url).unwrap();
                wsmachine::tokio::connect_with(stream, handshake, Config::default()).await.unwrap()
            };
            let h1_rate = echo_rate(&mut on_h1, size).await;
            println!(
                "| {size} B | {:.0} k/s | {:.0} k/s | {:.2} |",
                h2_rate / 1e3,
                h1_rate / 1e3,
                h2_rate / h1_rate
            );
        }
    });
}
