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
//!   [`Sender`](wsmachine::Sender) that comes with it. Only a frame cut off by the end of
//!   a read is copied into the connection.
//! - **Writes**: after each read, everything the echoes queued goes out in one `write_all`,
//!   within [`WRITE_DEADLINE`].
//! - **Deadlines** are the connection's own (handshake, keepalive, closing): the wait for
//!   readiness races a sleep until [`Connection::poll_timeout`], and the connection is given
//!   the time after each wake-up.
//!
//! A bad peer ends its own task, never the server.

use std::cell::RefCell;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use wsmachine::{Config, Connection};

#[path = "shared/args.rs"]
mod args;
#[path = "shared/echo.rs"]
mod echo;
use echo::{echo_message, handle_other};

/// How long one write of a read's echoes may take: a peer that stops reading is let go.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
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
    let args = args::Args::from_env();
    let listener = TcpListener::bind(&args.address).await?;
    eprintln!("echo_tokio listening on ws://{}", listener.local_addr()?);
    serve_all(listener, args.config).await
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
    let connection = Connection::server(config, Instant::now());
    let mut ws = WsStream { io: stream, connection, output: Vec::new() };
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
    /// be readable or the connection's next deadline, read and handle what arrived, give the
    /// connection the time; until the connection is over.
    async fn echo(&mut self) -> io::Result<()> {
        loop {
            self.flush().await?;
            if self.connection.should_close_transport() {
                return Ok(());
            }
            tokio::select! {
                readable = self.io.readable() => {
                    readable?;
                    READ_BUFFER.with_borrow_mut(|buffer| self.read_and_handle(buffer))?;
                }
                () = until(self.connection.poll_timeout()) => {}
            }
            self.connection.handle_timeout(Instant::now());
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
            match timeout(WRITE_DEADLINE, self.io.write_all(&self.output)).await {
                Ok(written) => written?,
                Err(_elapsed) => return Err(io::ErrorKind::TimedOut.into()),
            }
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
            let _ = timeout(WRITE_DEADLINE, self.io.shutdown()).await;
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
