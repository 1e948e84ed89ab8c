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
//! connection's deadlines through the socket's read and write timeouts. A bad peer ends its
//! own connection, never the server: at most 10,000 connections are open at once, 256 from
//! one address (`--max-connections=N`, `--max-per-address=N`); more are closed at once.

use std::thread;
use std::time::Duration;

use wsmachine::blocking::{accept_with, Accepted, Answer};
use wsmachine::Message;

#[path = "shared/admission.rs"]
mod admission;
#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

/// Each connection's thread stack. Small, so that a thousand connections ending at one
/// deadline free their stacks into the allocator's cache rather than unmapping them one by
/// one (each unmapping stalls every thread of the process that faults meanwhile): the
/// connection keeps its buffers on the heap, so it needs little stack.
const STACK_SIZE: usize = 128 * 1024;

fn main() -> std::io::Result<()> {
    let args = args::Args::from_env();
    let listener = listen::listen(&args.address, false)?;
    eprintln!("echo_std listening on ws://{}", listener.local_addr()?);
    let admission = admission::Admission::new(args.limits);
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // Out of file descriptors, say: back off instead of spinning.
            thread::sleep(Duration::from_millis(100));
            continue;
        };
        let Some(ticket) = stream.peer_addr().ok().and_then(|peer| admission.admit(peer.ip()))
        else {
            continue; // over a cap: closed at once
        };
        let config = args.config;
        let spawned = thread::Builder::new().stack_size(STACK_SIZE).spawn(move || {
            let _ticket = ticket;
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
        if spawned.is_err() {
            // Out of threads or memory: the connection (moved into the closure) is dropped.
            thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
