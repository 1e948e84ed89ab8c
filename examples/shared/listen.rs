//! The listening socket the servers share: a backlog of 1,024 connections waiting to be
//! accepted, where std, mio and tokio's `bind` all ask for 128 (past it, a burst of connects
//! waits a second for the SYN to be sent again).

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Socket, Type};

/// Connections the kernel may hold ready for `accept` (capped by `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// Listens on `address` (`host:port`), non-blocking when `nonblocking` (for mio and tokio).
pub(crate) fn listen(address: &str, nonblocking: bool) -> io::Result<TcpListener> {
    let address: SocketAddr = address.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{address}: no address"))
    })?;
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(nonblocking)?;
    Ok(socket.into())
}
