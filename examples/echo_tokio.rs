//! An echo server on tokio, one task per connection.
//!
//! ```text
//! cargo run --release --example echo_tokio -- 127.0.0.1:9001
//! cargo run --release --features deflate --example echo_tokio -- 127.0.0.1:9001 --deflate
//! ```
//!
//! Every text and binary message is sent back; the closing handshake is answered. A small
//! wrapper, [`WsStream`], owns the socket and the [`Connection`]; it holds no buffer while the
//! connection is idle:
//!
//! - **Reads** wait for readiness (`readable`), then read once into one 256 KiB buffer that
//!   every task on the thread shares (a thread-local, borrowed only between two awaits), and
//!   the connection reads the bytes in place there ([`Connection::receive_in_place`]): each
//!   message is unmasked and echoed where the read put it, with the
//!   [`Responder`](wsmachine::Responder) that comes with it. Only a frame cut off by the end of
//!   a read is copied into the connection.
//! - **Writes**: after each read, everything the echoes queued goes out in one `write_all`.
//! - **Deadlines**: each wait gets one, chosen from what the connection says it waits for: the
//!   handshake (10 s), idle time between messages (120 s), or the peer's reply to a Close
//!   (5 s).
//!
//! A bad peer ends its own task, never the server.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use wsmachine::{Config, Connection, Waiting};

#[path = "shared/echo.rs"]
mod echo;
use echo::{echo_message, handle_other};

const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
const IDLE_DEADLINE: Duration = Duration::from_secs(120);
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);
/// Write buffer capacity kept between writes: what the echoes of one full read take; a larger
/// one (a message larger than the read buffer) is freed after use.
const KEEP_WRITE_CAPACITY: usize = 2 * READ_BUFFER_LEN;
/// The read buffer every task on a thread shares: large reads mean few system calls, and
/// large messages lie whole in one read, where they are echoed without a copy.
const READ_BUFFER_LEN: usize = 256 * 1024;

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER_LEN]);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let address = address_from_args();
    let config = config_from_args();
    let listener = TcpListener::bind(&address).await?;
    eprintln!("echo_tokio listening on ws://{}", listener.local_addr()?);
    serve_all(listener, config).await
}

/// Accepts connections forever, a task each (`pub(crate)` for `tests/echo_allocations.rs`,
/// which runs it).
pub(crate) async fn serve_all(listener: TcpListener, config: Config) -> io::Result<()> {
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
    let mut ws =
        WsStream { io: stream, connection: Connection::server(config), output: Vec::new() };
    let result = ws.echo().await;
    ws.shutdown().await;
    result
}

/// A [`Connection`] over a tokio TCP stream.
#[derive(Debug)]
struct WsStream {
    io: TcpStream,
    connection: Connection,
    /// The output being written; empty between writes.
    output: Vec<u8>,
}

impl WsStream {
    /// The echo loop proper: write what the last read's events queued, wait for the socket to
    /// be readable, read and handle what arrived; until the connection is over.
    async fn echo(&mut self) -> io::Result<()> {
        loop {
            self.flush().await?;
            if self.connection.should_close_transport()
                || self.connection.waiting_for() == Waiting::Nothing
            {
                return Ok(());
            }
            deadline(self.deadline(), self.io.readable()).await?;
            READ_BUFFER.with_borrow_mut(|buffer| self.read_and_handle(buffer))?;
        }
    }

    /// One read into the shared `buffer`, read in place and every event handled. A spurious
    /// wake-up (`WouldBlock`) reads nothing.
    fn read_and_handle(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        // A short read drained the socket: it is reported as `WouldBlock` to `try_io`, which
        // then clears the readiness it saw before the read (data arriving later is a new
        // event), and the next wait does not cost a read that would only block.
        let mut short_read = None;
        let read = self.io.try_io(Interest::READABLE, || {
            let read = self.io.try_read(buffer)?;
            if read > 0 && read < buffer.len() {
                short_read = Some(read);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(read)
        });
        let read = match (read, short_read) {
            (_, Some(read)) => Ok(read),
            (read, None) => read,
        };
        match read {
            Ok(0) => {
                self.connection.receive_eof();
                while let Some(next) = self.connection.poll_event_ref() {
                    if let Some(event) = echo_message(next) {
                        handle_other(&mut self.connection, event);
                    }
                }
            }
            Ok(read) => {
                let mut input = self.connection.receive_in_place(&mut buffer[..read]);
                while let Some(next) = input.poll_event_ref() {
                    if let Some(event) = echo_message(next) {
                        handle_other(input.connection(), event);
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// Writes everything the connection has queued, in one `write_all`.
    async fn flush(&mut self) -> io::Result<()> {
        if self.connection.poll_transmit(&mut self.output) > 0 {
            deadline(self.deadline(), self.io.write_all(&self.output)).await?;
        }
        self.output.clear();
        if self.output.capacity() > KEEP_WRITE_CAPACITY {
            self.output = Vec::new();
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
