//! An echo server on tokio, one task per connection.
//!
//! ```text
//! cargo run --release --example echo_tokio -- 127.0.0.1:9001
//! cargo run --release --features deflate --example echo_tokio -- 127.0.0.1:9001 --deflate
//! ```
//!
//! Every text and binary message is sent back; the closing handshake is answered. A small async
//! wrapper, [`WsStream`], owns the socket, the [`Connection`] and two buffers, so that the echo
//! loop reads like any other stream of messages: `while let Some(event) = ws.next().await?`.
//!
//! The wrapper writes everything the connection produced for one read in a single `write_all`,
//! just before it reads again; the commands in between (`send_text`, `send_binary`) only queue.
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
use wsmachine::{Config, Connection, Event, ProtocolError, SendError, Waiting};

const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
const IDLE_DEADLINE: Duration = Duration::from_secs(120);
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);
/// Queued output above which a send writes at once instead of waiting for the next read.
const FLUSH_ABOVE: usize = 256 * 1024;
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

/// The echo loop proper.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WsStream<S>) -> io::Result<()> {
    while let Some(event) = ws.next().await? {
        match event {
            Ok(Event::Request(request)) => {
                // An origin policy would look at request.request().origin() here.
                ws.connection.accept(request.accept()).expect("nothing unoffered is selected");
            }
            Ok(Event::HttpRequest(_)) => ws.connection.reject(
                &Rejection::new(426)
                    .with_header(Header::new("Sec-WebSocket-Version", "13").expect("valid"))
                    .with_body("this is a WebSocket echo server\n"),
            ),
            // A send fails only once a Close is under way, when the echo no longer matters.
            Ok(Event::Text(text)) => {
                let _closing: Result<(), SendError> = ws.send_text(text.as_str()).await?;
            }
            Ok(Event::Binary(data)) => {
                let _closing: Result<(), SendError> = ws.send_binary(&data).await?;
            }
            Ok(_) => {}
            Err(error) => eprintln!("peer broke the protocol: {error}"),
        }
    }
    Ok(())
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

    /// The next event, reading (after writing any pending output) until one is available.
    /// `Ok(None)` once the transport should be closed; an error when the socket fails or the
    /// deadline for what the connection waits for passes.
    async fn next(&mut self) -> io::Result<Option<Result<Event, ProtocolError>>> {
        loop {
            if let Some(event) = self.connection.poll_event() {
                return Ok(Some(event));
            }
            // Everything the last read produced goes out in one write, before reading again.
            self.flush().await?;
            if self.connection.should_close_transport()
                || self.connection.waiting_for() == Waiting::Nothing
            {
                return Ok(None);
            }
            let read = deadline(self.deadline(), self.io.read(&mut self.read_buf)).await?;
            if read == 0 {
                self.connection.receive_eof();
            } else {
                self.connection.receive(&self.read_buf[..read]);
            }
        }
    }

    /// Queues a text message; writes at once only when much output is queued.
    async fn send_text(&mut self, text: &str) -> io::Result<Result<(), SendError>> {
        let queued = self.connection.send_text(text);
        self.flush_if_full().await?;
        Ok(queued)
    }

    /// Queues a binary message; writes at once only when much output is queued.
    async fn send_binary(&mut self, data: &[u8]) -> io::Result<Result<(), SendError>> {
        let queued = self.connection.send_binary(data);
        self.flush_if_full().await?;
        Ok(queued)
    }

    async fn flush_if_full(&mut self) -> io::Result<()> {
        if self.connection.buffered_output() > FLUSH_ABOVE {
            self.flush().await?;
        }
        Ok(())
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
