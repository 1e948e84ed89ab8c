//! An echo server on blocking `std::net`, through the crate's blocking adapter: a thread per
//! connection.
//!
//! ```text
//! cargo run --release --features blocking --example echo_std -- 127.0.0.1:9001
//! cargo run --release --features blocking,deflate --example echo_std -- 127.0.0.1:9001 --deflate
//! ```
//!
//! `--deflate=N` sends messages shorter than N bytes uncompressed. Every text and binary
//! message is sent back; the adapter answers Pings and the closing handshake and keeps the
//! connection's deadlines through the socket's read timeout. A bad peer ends its own
//! connection, never the server.

use std::thread;

use wsmachine::blocking::{accept_with, Accepted, Answer};
use wsmachine::Message;

#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

fn main() -> std::io::Result<()> {
    let args = args::Args::from_env();
    let listener = listen::listen(&args.address, false)?;
    eprintln!("echo_std listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        let config = args.config;
        thread::spawn(move || {
            let Ok(Accepted::WebSocket(mut ws)) = accept_with(stream, config, |_| Answer::accept())
            else {
                return; // a plain HTTP request (answered with 426) or a broken handshake
            };
            while let Some(message) = ws.read() {
                match message {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        if ws.send(message).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => eprintln!("connection ended: {error}"),
                }
            }
        });
    }
    Ok(())
}
