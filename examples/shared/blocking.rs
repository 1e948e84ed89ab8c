//! A connection driven over a blocking `std::net::TcpStream`: the loop the blocking examples
//! share (`echo_std`, `client`, `autobahn_client`).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use wsmachine::{Connection, Event, ProtocolError};

/// Drives `connection` over `stream` until the connection is over: writes what it queued,
/// reads with its next deadline as the socket's read timeout, gives it the time after every
/// read and when a deadline passes, and hands every event to `on_event` with the connection
/// (to answer it). Whatever ends the connection, its last output (the Close it owes, a
/// rejection) is written before the transport is shut down; only an I/O error ends the loop
/// earlier.
pub(crate) fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, Result<Event, ProtocolError>),
) -> io::Result<()> {
    let mut input = vec![0u8; 64 * 1024];
    let mut output = Vec::new();
    let result = loop {
        output.clear();
        connection.poll_transmit(&mut output);
        if let Err(error) = stream.write_all(&output) {
            break Err(error);
        }
        if connection.should_close_transport() {
            break Ok(());
        }
        let timeout = connection.poll_timeout().map(|deadline| {
            // A zero timeout is refused by the socket; a deadline already past waits 1 µs.
            deadline
                .saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_micros(1))
        });
        if let Err(error) = stream.set_read_timeout(timeout) {
            break Err(error);
        }
        match stream.read(&mut input) {
            Ok(0) => connection.receive_eof(),
            Ok(read) => connection.receive(&input[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => break Err(error),
        }
        connection.handle_timeout(Instant::now());
        while let Some(event) = connection.poll_event() {
            on_event(connection, event);
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    result
}
