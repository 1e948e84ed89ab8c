//! An echo server on tokio, one task per connection.
//!
//! ```text
//! cargo run --release --example echo_tokio -- 127.0.0.1:9001
//! cargo run --release --features deflate --example echo_tokio -- 127.0.0.1:9001 --deflate
//! ```
//!
//! Every text and binary message is sent back; the closing handshake is answered. A small async
//! wrapper, [`WsStream`], owns the socket, the [`Connection`] and two buffers. The echo loop
//! handles every event the last read produced, each message borrowed from the connection and
//! echoed with the [`Responder`](wsmachine::Responder) that comes with it, then calls
//! `read_more`, which writes everything those echoes queued in a single `write_all` and reads
//! again.
//! Each read gets a deadline chosen from what the connection says it is waiting for: the
//! handshake (10 s), idle time between messages (120 s), or the peer's reply to a Close (5 s).
//! A bad peer ends its own task, never the server.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use wsmachine::handshake::{Header, Rejection};
use wsmachine::{Config, Connection, Event, EventRef, SendError, Waiting};

const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
const IDLE_DEADLINE: Duration = Duration::from_secs(120);
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);
/// Write buffer capacity kept between flushes; a larger one is freed after use.
const KEEP_WRITE_CAPACITY: usize = 1024 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let address = address_from_args();
    let config = config_from_args();
    let listener = TcpListener::bind(&address).await?;
    eprintln!("echo_tokio listening on ws://{}", listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(async move {
                    if let Err(error) = serve(stream, config).await {
                        eprintln!("connection {peer}: {error}");
                    }
                });
            }
            Err(error) => {
                // Out of file descriptors, say: back off instead of spinning.
                eprintln!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one connection until it is over, a deadline passes or the socket fails.
async fn serve(stream: TcpStream, config: Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut ws = WsStream::new(stream, Connection::server(config));
    let result = echo(&mut ws).await;
    ws.shutdown().await;
    result
}

/// The echo loop proper: every event of one read is handled, then the echoes go out in one
/// write before the next read. Messages are read borrowed (`poll_event_ref`) and echoed from
/// where they lie in the connection's receive buffer: no copy and no reference count.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WsStream<S>) -> io::Result<()> {
    loop {
        while let Some(next) = ws.connection.poll_event_ref() {
            let event = match next {
                // A send fails only once a Close is under way, when the echo no longer matters.
                Ok((EventRef::Text(text), mut responder)) => {
                    let _closing: Result<(), SendError> = responder.send_text(text);
                    continue;
                }
                Ok((EventRef::Binary(data), mut responder)) => {
                    let _closing: Result<(), SendError> = responder.send_binary(data);
                    continue;
                }
                Ok((EventRef::Other(event), _)) => event,
                Ok(_) => continue,
                Err(error) => {
                    eprintln!("peer broke the protocol: {error}");
                    continue;
                }
            };
            match event {
                Event::Request(request) => {
                    // An origin policy would look at request.request().origin() here.
                    ws.connection.accept(request.accept()).expect("nothing unoffered is selected");
                }
                Event::HttpRequest(_) => ws.connection.reject(
                    &Rejection::new(426)
                        .with_header(Header::new("Sec-WebSocket-Version", "13").expect("valid"))
                        .with_body("this is a WebSocket echo server\n"),
                ),
                _ => {}
            }
        }
        if !ws.read_more().await? {
            return Ok(());
        }
    }
}

/// A [`Connection`] over an async byte stream.
#[derive(Debug)]
struct WsStream<S> {
    io: S,
    connection: Connection,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    fn new(io: S, connection: Connection) -> Self {
        WsStream { io, connection, read_buf: vec![0; 64 * 1024], write_buf: Vec::new() }
    }

    /// Writes what the connection produced, in one write, then reads more into it. `false`
    /// once the transport should be closed; an error when the socket fails or the deadline for
    /// what the connection waits for passes.
    async fn read_more(&mut self) -> io::Result<bool> {
        self.flush().await?;
        if self.connection.should_close_transport()
            || self.connection.waiting_for() == Waiting::Nothing
        {
            return Ok(false);
        }
        let read = deadline(self.deadline(), self.io.read(&mut self.read_buf)).await?;
        if read == 0 {
            self.connection.receive_eof();
        } else {
            self.connection.receive(&self.read_buf[..read]);
        }
        Ok(true)
    }

    /// Writes everything the connection has queued, in one `write_all`.
    async fn flush(&mut self) -> io::Result<()> {
        self.write_buf.clear();
        if self.connection.poll_transmit(&mut self.write_buf) > 0 {
            deadline(self.deadline(), self.io.write_all(&self.write_buf)).await?;
            self.io.flush().await?;
        }
        if self.write_buf.capacity() > KEEP_WRITE_CAPACITY {
            self.write_buf = Vec::new();
        }
        Ok(())
    }

    /// Writes what is left and shuts the transport down, ignoring errors: the connection is
    /// over either way.
    async fn shutdown(&mut self) {
        if self.flush().await.is_ok() {
            let _ = timeout(CLOSE_DEADLINE, self.io.shutdown()).await;
        }
    }

    /// How long the next read or write may take, from what the connection waits for.
    fn deadline(&self) -> Duration {
        match self.connection.waiting_for() {
            Waiting::Request | Waiting::Decision | Waiting::Response => HANDSHAKE_DEADLINE,
            Waiting::Messages => IDLE_DEADLINE,
            _ => CLOSE_DEADLINE,
        }
    }
}

/// Runs an I/O future with a deadline; passing it is a `TimedOut` error.
async fn deadline<T>(
    limit: Duration,
    future: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match timeout(limit, future).await {
        Ok(result) => result,
        Err(_elapsed) => Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed")),
    }
}

/// The configuration: permessage-deflate with `--deflate` (built with `--features deflate`).
fn config_from_args() -> Config {
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut config = Config::default();
    if std::env::args().any(|arg| arg == "--deflate") {
        #[cfg(feature = "deflate")]
        {
            config.deflate = Some(Default::default());
        }
        #[cfg(not(feature = "deflate"))]
        {
            eprintln!("--deflate needs the deflate feature: cargo run --features deflate ...");
            std::process::exit(2);
        }
    }
    config
}

/// The address to listen on: the first argument that is not a flag.
fn address_from_args() -> String {
    std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned())
}
