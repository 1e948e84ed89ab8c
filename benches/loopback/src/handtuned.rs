//! wsmachine's hand-tuned tokio echo loop, for the loopback benchmark: what the `echo_tokio`
//! example was before the crate had its tokio adapter, kept to measure the adapter against.
//!
//! Readiness, then one read into a 256 KiB buffer every task on the thread shares, read in
//! place (`Connection::receive_in_place`: each message unmasked and echoed where the read put
//! it); after each read, every echo goes out in one `write_all`; the connection's deadlines
//! race the wait for readiness.

use std::cell::RefCell;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::time::timeout;
use wsmachine::handshake::{Header, Rejection};
use wsmachine::{Config, Connection, Event, EventRef};

/// How long one write of a read's echoes may take.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// The read buffer every task on a thread shares.
const READ_BUFFER_LEN: usize = 256 * 1024;
/// Write buffer capacity kept between writes.
const KEEP_WRITE_CAPACITY: usize = 2 * READ_BUFFER_LEN;

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER_LEN]);
}

/// Serves one connection until it is over, a deadline passes or the socket fails.
pub async fn serve(stream: TcpStream) -> io::Result<()> {
    let connection = Connection::server(Config::default(), Instant::now());
    let mut ws = WsStream { io: stream, connection, output: Vec::new() };
    let result = ws.echo().await;
    if ws.flush().await.is_ok() {
        let _ = timeout(WRITE_DEADLINE, ws.io.shutdown()).await;
    }
    result
}

struct WsStream {
    io: TcpStream,
    connection: Connection,
    output: Vec<u8>,
}

impl WsStream {
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

    fn read_and_handle(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        // A short read drained the socket: reported as `WouldBlock` to `try_io`, which then
        // clears the readiness it saw, so the next wait costs no read that would only block.
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
                    if let Ok((EventRef::Other(event), _)) = next {
                        answer(&mut self.connection, event);
                    }
                }
            }
            Ok(read) => {
                let mut input = self.connection.receive_in_place(&mut buffer[..read]);
                while let Some(next) = input.poll_event_ref() {
                    match next {
                        Ok((EventRef::Text(text), sender)) => {
                            let _closing = sender.send_text(text);
                        }
                        Ok((EventRef::Binary(data), sender)) => {
                            let _closing = sender.send_binary(data);
                        }
                        Ok((EventRef::Other(event), _)) => answer(input.connection(), event),
                        _ => {}
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        Ok(())
    }

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
}

/// Accepts the upgrade; answers plain HTTP with 426.
fn answer(connection: &mut Connection, event: Event) {
    let _ = match event {
        Event::Request(request) => connection.accept(request.accept()),
        Event::HttpRequest(_) => connection.reject(
            &Rejection::new(426).with_header(Header::new("Sec-WebSocket-Version", "13").unwrap()),
        ),
        _ => Ok(()),
    };
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
