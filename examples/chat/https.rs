//! The chat over HTTPS (`--tls`, feature `http2`): the page and the chat on one address over
//! TLS, with HTTP/2 and HTTP/1.1 (ALPN `h2` and `http/1.1`) and a self-signed certificate made
//! at start. hyper serves the page and answers the WebSocket requests: an HTTP/1.1 upgrade, or
//! over HTTP/2 an extended CONNECT (RFC 8441), which lets a browser open the WebSocket as a
//! stream of the connection that loaded the page. Every accepted WebSocket is handed to the
//! same sans-IO [`Room`] as the plain server's, as a `Connection` whose handshake hyper did
//! (`Upgrading::into_parts`), with the bytes of its stream.
//!
//! Each request is logged with the number of the TLS connection it came on and its HTTP
//! version (`https connection 3: HTTP/2.0 CONNECT /chat`), which the browser test reads to
//! check that a page and its WebSocket shared one HTTP/2 connection.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_rustls::rustls;
use wsmachine::tokio::Answer;

use crate::room::{decide, page_response, Decision, Room};

/// The room and the writers waiting for its output, shared by every task on the one thread.
struct Shared {
    room: Room,
    /// By connection id: the writer task to wake when the room has output for it.
    writers: std::collections::HashMap<u64, Arc<Notify>>,
    touched: Vec<u64>,
    next_id: u64,
}

impl Shared {
    /// Wakes the writer of every connection the room touched.
    fn wake_writers(&mut self) {
        self.room.take_touched(&mut self.touched);
        for id in &self.touched {
            if let Some(writer) = self.writers.get(id) {
                writer.notify_one();
            }
        }
    }
}

type State = Arc<Mutex<Shared>>;

fn lock(state: &State) -> MutexGuard<'_, Shared> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves the chat over TLS on `address` until the process ends.
pub(crate) fn run(address: SocketAddr, room: Room) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(serve(address, room))
}

async fn serve(address: SocketAddr, room: Room) -> io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config()?));
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!(
        "chat listening on https://{} (HTTP/2 and HTTP/1.1, a self-signed certificate; origins: {:?})",
        listener.local_addr()?,
        room.origins()
    );
    let state: State = Arc::new(Mutex::new(Shared {
        room,
        writers: std::collections::HashMap::new(),
        touched: Vec::new(),
        next_id: 0,
    }));
    tokio::spawn(tick(state.clone()));
    let mut connections = 0u64;
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        connections += 1;
        let (acceptor, state, number) = (acceptor.clone(), state.clone(), connections);
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => return eprintln!("https connection {number} from {peer}: {error}"),
            };
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(request, number, &state)) }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http2().enable_connect_protocol();
            if let Err(error) =
                builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await
            {
                eprintln!("https connection {number}: {error}");
            }
        });
    }
}

/// A certificate for `localhost` and `127.0.0.1`, made now, and ALPN for both HTTP versions.
fn tls_config() -> io::Result<rustls::ServerConfig> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key.into())
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// One request on TLS connection `number`: the page, or a WebSocket for the room.
fn answer(
    request: http::Request<hyper::body::Incoming>,
    number: u64,
    state: &State,
) -> http::Response<Full<Bytes>> {
    eprintln!(
        "https connection {number}: {:?} {} {}",
        request.version(),
        request.method(),
        request.uri().path()
    );
    let is_websocket = request.method() == http::Method::CONNECT
        || request.headers().contains_key(http::header::UPGRADE);
    if !is_websocket {
        let mut response = page_response(request.method().as_str(), request.uri().path())
            .to_http_response()
            .map(|body| Full::new(Bytes::from(body)));
        // The plain server closes after each page; here the connection carries on (and over
        // HTTP/2 a `Connection` header is not allowed at all).
        response.headers_mut().remove(http::header::CONNECTION);
        return response;
    }
    let config = lock(state).room.config();
    let decide = |offer: &wsmachine::handshake::Offer<'_>| {
        let shared = lock(state);
        match decide(offer, shared.room.origins(), shared.room.is_full(), true) {
            Decision::Accept(Some(protocol)) => Answer::accept_protocol(protocol),
            Decision::Accept(None) => Answer::accept(),
            Decision::Refuse(refusal) => Answer::Reject(refusal),
        }
    };
    match wsmachine::tokio::upgrade_with(request, config, decide) {
        Ok((response, upgrading)) => {
            let state = state.clone();
            tokio::spawn(async move {
                match upgrading.into_parts().await {
                    Ok((stream, connection)) => member(stream, connection, state).await,
                    Err(error) => eprintln!("https connection {number}: upgrade failed: {error}"),
                }
            });
            response
        }
        Err(refusal) => refusal,
    }
}

/// Moves one WebSocket's bytes between its stream and the room until the room is done with
/// it: reads in a task of its own, writes here when the room has output for it.
async fn member(
    stream: wsmachine::tokio::Upgraded,
    connection: wsmachine::Connection,
    state: State,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let wake = Arc::new(Notify::new());
    let id = {
        let mut shared = lock(&state);
        shared.next_id += 1;
        let id = shared.next_id;
        shared.writers.insert(id, wake.clone());
        shared.room.adopt(id, connection, Instant::now());
        shared.wake_writers();
        id
    };
    let reading = tokio::spawn({
        let state = state.clone();
        async move {
            let mut buffer = vec![0; 16 * 1024];
            loop {
                let read = reader.read(&mut buffer).await;
                let mut shared = lock(&state);
                match read {
                    Ok(0) | Err(_) => {
                        shared.room.receive_eof(id, Instant::now());
                        shared.wake_writers();
                        return;
                    }
                    Ok(n) => shared.room.receive(id, &buffer[..n], Instant::now()),
                }
                shared.wake_writers();
                if !shared.room.wants_input(id) {
                    return;
                }
            }
        }
    });
    loop {
        // What the room has for this connection, taken a piece at a time so that its limit on
        // unsent output still sees a peer that does not read.
        let (chunk, finished) = {
            let mut shared = lock(&state);
            let chunk = shared.room.pending(id).to_vec();
            shared.room.written(id, chunk.len());
            (chunk, shared.room.finished(id))
        };
        if !chunk.is_empty() {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
            continue;
        }
        if finished {
            // The server closes first (§7.1.1): over HTTP/2, the end of the stream.
            let _ = writer.shutdown().await;
            break;
        }
        wake.notified().await;
    }
    reading.abort();
    let mut shared = lock(&state);
    shared.writers.remove(&id);
    shared.room.remove(id);
    shared.wake_writers();
}

/// The room's clock: pings and deadlines, once a second.
async fn tick(state: State) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        interval.tick().await;
        let mut shared = lock(&state);
        shared.room.tick(Instant::now());
        shared.wake_writers();
    }
}
