//! Echo servers on other WebSocket libraries, for the loopback benchmark.
//!
//! ```text
//! peer_echo SERVER 127.0.0.1:9001
//! ```
//!
//! Every server runs on a tokio `current_thread` runtime, one task per connection, so that it
//! is single-threaded like wsmachine's `echo_mio` and `echo_tokio` examples. Each echoes every
//! text and binary message and answers Ping and Close as its library does by itself. Message
//! limits are set to 64 MiB (the libraries' defaults already allow the benchmark's 1 MiB).
//!
//! - `tungstenite-batched`: tokio-tungstenite; each echo is queued with `feed`, and the
//!   queue is flushed only when no further message is ready at once (`now_or_never`), so a
//!   burst of input goes out in few writes.
//! - `tungstenite-simple`: tokio-tungstenite; each echo is `send` (write and flush).
//! - `fastwebsockets`: hyper serves the upgrade (`fastwebsockets::upgrade`), then a
//!   `FragmentCollector` reads messages and `write_frame` writes each echo (one write per
//!   frame, as the library does); auto close and auto pong on.
//! - `tokio-websockets`: `ServerBuilder::accept`, batched like `tungstenite-batched`.
//! - `raw-copy`: no WebSocket at all: answers the upgrade with a fixed 101 and then copies
//!   every byte back (the client's frames come back masked). The ceiling of the loopback
//!   path and of the load client.
//! - `wsmachine-obvious`: wsmachine's tokio adapter written the obvious way: `recv`, then
//!   `send` each message back.
//! - `wsmachine-handtuned`: wsmachine's former hand-tuned tokio loop (`src/handtuned.rs`),
//!   which the tokio adapter replaced in the `echo_tokio` example.

use std::error::Error;
use std::future::Future;
use std::io;
use std::time::Duration;

use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_MESSAGE: usize = 64 << 20;
const SERVERS: [&str; 7] = [
    "tungstenite-batched",
    "tungstenite-simple",
    "fastwebsockets",
    "tokio-websockets",
    "raw-copy",
    "wsmachine-obvious",
    "wsmachine-handtuned",
];

type BoxError = Box<dyn Error + Send + Sync>;

#[path = "../handtuned.rs"]
mod handtuned;

/// wsmachine's tokio adapter, the obvious way: each message received is sent back.
async fn wsmachine_obvious(stream: TcpStream) -> Result<(), wsmachine::tokio::Error> {
    let mut ws = wsmachine::tokio::accept(stream).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let (Some(server), Some(address)) = (args.next(), args.next()) else {
        return Err(format!("usage: peer_echo {} ADDR", SERVERS.join("|")).into());
    };
    if !SERVERS.contains(&server.as_str()) {
        return Err(format!("unknown server {server}; one of {}", SERVERS.join(", ")).into());
    }
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(&address).await?;
        eprintln!("peer_echo {server} listening on {}", listener.local_addr()?);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    eprintln!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            match server.as_str() {
                "tungstenite-batched" => spawn_logged(tungstenite(stream, true)),
                "tungstenite-simple" => spawn_logged(tungstenite(stream, false)),
                "fastwebsockets" => spawn_logged(fastwebsockets_http(stream)),
                "tokio-websockets" => spawn_logged(tokio_websockets(stream)),
                "wsmachine-obvious" => spawn_logged(wsmachine_obvious(stream)),
                "wsmachine-handtuned" => spawn_logged(handtuned::serve(stream)),
                _ => spawn_logged(raw_copy(stream)),
            }
        }
    })
}

/// Runs one connection's task; its error, if any, goes to stderr.
fn spawn_logged<E: std::fmt::Display>(task: impl Future<Output = Result<(), E>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(error) = task.await {
            eprintln!("connection: {error}");
        }
    });
}

/// Echoes every message for which `is_data` holds, `feed`ing each and flushing when nothing
/// more is ready (`batched`), or with one `send` each.
async fn echo_messages<S, M, E>(mut ws: S, batched: bool, is_data: fn(&M) -> bool) -> Result<(), E>
where
    S: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Unpin,
{
    let mut next = ws.next().await;
    while let Some(message) = next {
        let message = message?;
        if is_data(&message) {
            if batched {
                ws.feed(message).await?;
            } else {
                ws.send(message).await?;
            }
        }
        next = if batched {
            match ws.next().now_or_never() {
                Some(ready) => ready,
                None => {
                    ws.flush().await?;
                    ws.next().await
                }
            }
        } else {
            ws.next().await
        };
    }
    // The peer is gone or closed; whatever is still queued goes out if the socket takes it.
    let _ = ws.flush().await;
    Ok(())
}

async fn tungstenite(
    stream: TcpStream,
    batched: bool,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    use tokio_tungstenite::tungstenite::Message;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    echo_messages(ws, batched, |message: &Message| message.is_binary() || message.is_text()).await
}

async fn tokio_websockets(stream: TcpStream) -> Result<(), tokio_websockets::Error> {
    let limits = tokio_websockets::Limits::default().max_payload_len(Some(MAX_MESSAGE));
    let (_request, ws) =
        tokio_websockets::ServerBuilder::new().limits(limits).accept(stream).await?;
    echo_messages(ws, true, |message: &tokio_websockets::Message| {
        message.is_binary() || message.is_text()
    })
    .await
}

/// hyper serves HTTP/1.1 on the connection and hands upgraded ones to [`fastwebsockets_echo`].
async fn fastwebsockets_http(stream: TcpStream) -> Result<(), hyper::Error> {
    let service = service_fn(|mut request: Request<Incoming>| async move {
        let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut request)?;
        spawn_logged(fastwebsockets_echo(upgrade));
        Ok::<Response<Empty<Bytes>>, fastwebsockets::WebSocketError>(response)
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await
}

async fn fastwebsockets_echo(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
) -> Result<(), fastwebsockets::WebSocketError> {
    use fastwebsockets::OpCode;
    let mut ws = upgrade.await?;
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_max_message_size(MAX_MESSAGE);
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

/// The 101 for the load client's fixed key (RFC 6455 §1.3's example).
const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// Reads the request head, answers 101, then copies every byte back.
async fn raw_copy(mut stream: TcpStream) -> io::Result<()> {
    let mut buffer = vec![0; 64 * 1024];
    let mut filled = 0;
    let head_end = loop {
        let read = stream.read(&mut buffer[filled..]).await?;
        if read == 0 {
            return Ok(());
        }
        filled += read;
        if let Some(at) = buffer[..filled].windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if filled == buffer.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no end of the request head"));
        }
    };
    stream.write_all(SWITCHING).await?;
    stream.write_all(&buffer[head_end..filled]).await?;
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        stream.write_all(&buffer[..read]).await?;
    }
}
