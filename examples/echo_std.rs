//! An echo server on blocking `std::net`, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_std -- 127.0.0.1:9001
//! cargo run --release --features deflate --example echo_std -- 127.0.0.1:9001 --deflate
//! ```
//!
//! `--deflate=N` sends messages shorter than N bytes uncompressed.
//!
//! Every text and binary message is sent back; the closing handshake is answered. The
//! deadlines are the connection's own (the handshake, keepalive, closing): the shared drive
//! loop (`shared/blocking.rs`) reads with the next one as the socket's read timeout and gives
//! the connection the time. A bad peer ends its own connection, never the server.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Instant;

use wsmachine::{Config, Connection};

#[path = "shared/args.rs"]
mod args;
#[path = "shared/blocking.rs"]
mod blocking;
#[path = "shared/echo.rs"]
mod echo;

fn main() -> io::Result<()> {
    let args = args::Args::from_env();
    let listener = TcpListener::bind(&args.address)?;
    eprintln!("echo_std listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let config = args.config;
                thread::spawn(move || {
                    let peer = stream.peer_addr().ok();
                    if let Err(error) = serve(stream, config) {
                        eprintln!("connection {peer:?}: {error}");
                    }
                });
            }
            Err(error) => eprintln!("accept failed: {error}"),
        }
    }
    Ok(())
}

/// Serves one connection until it is over.
fn serve(mut stream: TcpStream, config: Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut connection = Connection::server(config, Instant::now());
    blocking::drive(&mut stream, &mut connection, echo::echo_owned)
}
