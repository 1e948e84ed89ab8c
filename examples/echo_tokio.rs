//! An echo server on tokio, through the crate's tokio adapter: a task per connection.
//!
//! ```text
//! cargo run --release --features tokio --example echo_tokio -- 127.0.0.1:9001
//! cargo run --release --features tokio,deflate --example echo_tokio -- 127.0.0.1:9001 --deflate
//! ```
//!
//! Every text and binary message is sent back from where it lies (`for_each_ref`, the
//! zero-copy path: messages are unmasked and answered in the read buffer, with no copy and no
//! allocation per message); the adapter answers Pings and the closing handshake, keeps the
//! connection's deadlines on tokio's clock, and writes each read's echoes at once. At most
//! 10,000 connections are open at once, 256 from one address (`--max-connections=N`,
//! `--max-per-address=N`); more are closed at once.

use std::io;
use std::time::Duration;

use tokio::net::TcpListener;
use wsmachine::tokio::{accept_with, Accepted, Answer};
use wsmachine::{Config, EventRef};

#[path = "shared/admission.rs"]
pub(crate) mod admission;
#[path = "shared/args.rs"]
mod args;
#[path = "shared/listen.rs"]
mod listen;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let args = args::Args::from_env();
    let listener = TcpListener::from_std(listen::listen(&args.address, true)?)?;
    eprintln!("echo_tokio listening on ws://{}", listener.local_addr()?);
    serve_all(listener, args.config, args.limits).await
}

/// Accepts connections forever, a task each (`pub(crate)` for `tests/echo_allocations.rs`).
pub(crate) async fn serve_all(
    listener: TcpListener,
    config: Config,
    limits: admission::Limits,
) -> io::Result<()> {
    let admission = admission::Admission::new(limits);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Some(ticket) = admission.admit(peer.ip()) else {
                    continue; // over a cap: closed at once
                };
                tokio::spawn(async move {
                    let _ticket = ticket;
                    let _ = stream.set_nodelay(true);
                    if let Err(error) = echo(stream, config).await {
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

/// Echoes one connection's messages until it is over.
async fn echo(
    stream: tokio::net::TcpStream,
    config: Config,
) -> Result<(), wsmachine::tokio::Error> {
    // A plain HTTP request is answered with 426 and the task ends.
    let Accepted::WebSocket(mut ws) = accept_with(stream, config, |_| Answer::accept()).await?
    else {
        return Ok(());
    };
    ws.for_each_ref(|event, sender| match event {
        EventRef::Text(text) => sender.send_text(text),
        EventRef::Binary(data) => sender.send_binary(data),
        _ => Ok(()), // Pings are answered by the connection itself
    })
    .await
}
