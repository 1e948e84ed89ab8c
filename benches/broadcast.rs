//! Broadcast: one 1 KiB JSON message to 10,000 open server connections, time per recipient,
//! as a server writes it: queue the message on each connection and hand its output to the
//! socket (here a writer that takes everything, so the syscall, the same for every library, is
//! left out). Measured in one run:
//!
//! - `send_text` on each connection, then `poll_transmit` into the connection's output buffer;
//! - one `PreparedMessage`, `send_prepared` on each connection, then `poll_transmit_shared`
//!   and a vectored write of the shared frame (no copy of it);
//! - tungstenite 0.30 (the protocol core of tokio-tungstenite) sending a clone of one
//!   `Message` on each connection, as tokio-tungstenite's users broadcast;
//! - on tokio (one current-thread runtime, sockets that take everything): our tokio adapter's
//!   `WebSocket::send_prepared` on each connection against tokio-tungstenite 0.30's
//!   `send(message.clone())` on each, as each library's users write a broadcast loop.
//!
//! Each without compression, and with permessage-deflate as the `shared` preset (no context
//! kept) and the `default` preset (context kept, so each connection compresses for itself).
//! `cargo bench --bench broadcast --features deflate,tokio`; results in docs/benchmarks.md.

use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::time::{Duration, Instant};

use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
use wsmachine::handshake::ClientHandshake;
use wsmachine::{Config, Connection, Event, PreparedMessage};

const RECIPIENTS: usize = 10_000;
const ROUNDS: usize = 15;

/// A socket that takes every byte written to it and has nothing to read.
struct Socket;

impl Write for Socket {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Ok(black_box(bytes).len())
    }
    fn write_vectored(&mut self, bytes: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(black_box(bytes).iter().map(|slice| slice.len()).sum())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Socket {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// A server connection open with `deflate` negotiated (or none), and its output buffer.
fn open_server(deflate: Option<DeflateConfig>) -> (Connection, Vec<u8>) {
    let mut config = Config::default();
    config.deflate = deflate;
    config.max_buffered_output = usize::MAX;
    let now = Instant::now();
    let handshake = ClientHandshake::new("ws://localhost/feed").expect("valid URI");
    let mut client = Connection::client(handshake, config, now).expect("valid request");
    let mut server = Connection::server(config, now);
    let mut bytes = Vec::new();
    client.poll_transmit(&mut bytes);
    server.receive(&bytes);
    let Some(Ok(Event::Request(request))) = server.poll_event() else { panic!("no request") };
    server.accept(request.accept()).expect("valid request");
    bytes.clear();
    server.poll_transmit(&mut bytes);
    bytes.clear();
    (server, bytes)
}

/// The message: a chat event of about 1 KiB.
fn message() -> String {
    let mut text = String::from(r#"{"type":"message","room":"lobby","from":"ada","items":["#);
    let mut i = 0u32;
    while text.len() < 1000 {
        text.push_str(&format!(
            r#"{{"id":{i},"text":"hello, world","ts":{}}},"#,
            1_700_000_000 + i * 37
        ));
        i += 1;
    }
    text.pop();
    text.push_str("]}");
    text
}

/// The best round's time per recipient.
fn per_recipient(mut round: impl FnMut()) -> Duration {
    round(); // warm up: buffers grown, encodings made
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            round();
            start.elapsed()
        })
        .min()
        .expect("rounds")
        / RECIPIENTS as u32
}

fn send_text_each(connections: &mut [(Connection, Vec<u8>)], text: &str) -> Duration {
    per_recipient(|| {
        for (connection, output) in connections.iter_mut() {
            connection.sender().send_text(text).expect("open");
            connection.poll_transmit(output);
            Socket.write_all(output).expect("written");
            output.clear();
        }
    })
}

fn send_prepared_each(connections: &mut [(Connection, Vec<u8>)], text: &str) -> Duration {
    per_recipient(|| {
        let prepared = PreparedMessage::text(text);
        for (connection, output) in connections.iter_mut() {
            connection.sender().send_prepared(&prepared).expect("open");
            while let Some(shared) = connection.poll_transmit_shared(output) {
                let written = Socket.write_vectored(&[IoSlice::new(output), IoSlice::new(&shared)]);
                assert_eq!(written.expect("written"), output.len() + shared.len());
                output.clear();
            }
            Socket.write_all(output).expect("written");
            output.clear();
        }
    })
}

fn tungstenite_each(text: &str) -> Duration {
    use tungstenite::protocol::{Role, WebSocket};
    let mut sockets: Vec<WebSocket<Socket>> =
        (0..RECIPIENTS).map(|_| WebSocket::from_raw_socket(Socket, Role::Server, None)).collect();
    per_recipient(|| {
        let message = tungstenite::Message::text(text);
        for socket in &mut sockets {
            socket.send(message.clone()).expect("written");
        }
    })
}

/// A tokio socket that takes every byte written to it and never has anything to read.
struct AsyncSocket;

impl tokio::io::AsyncRead for AsyncSocket {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Pending
    }
}

impl tokio::io::AsyncWrite for AsyncSocket {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bytes: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::task::Poll::Ready(Ok(black_box(bytes).len()))
    }
    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bytes: &[IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::task::Poll::Ready(Ok(black_box(bytes).iter().map(|slice| slice.len()).sum()))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The best round's time per recipient on tokio: ours (`send_prepared` on the adapter) and
/// tokio-tungstenite's (`send` of a clone), no compression.
fn on_tokio(text: &str) -> (Duration, Duration) {
    use futures_util::SinkExt;
    use wsmachine::handshake::Negotiated;
    use wsmachine::Role;

    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    runtime.block_on(async {
        let mut ours: Vec<wsmachine::tokio::WebSocket<AsyncSocket>> = (0..RECIPIENTS)
            .map(|_| {
                let connection = Connection::open(
                    Role::Server,
                    Negotiated::default(),
                    Config::default(),
                    Instant::now(),
                );
                wsmachine::tokio::WebSocket::new(AsyncSocket, connection)
            })
            .collect();
        let mut theirs = Vec::with_capacity(RECIPIENTS);
        for _ in 0..RECIPIENTS {
            theirs.push(
                tokio_tungstenite::WebSocketStream::from_raw_socket(
                    AsyncSocket,
                    tungstenite::protocol::Role::Server,
                    None,
                )
                .await,
            );
        }
        let mut best = (Duration::MAX, Duration::MAX);
        for round in 0..=ROUNDS {
            let start = Instant::now();
            let prepared = PreparedMessage::text(text);
            for ws in &mut ours {
                ws.send_prepared(&prepared).await.expect("written");
            }
            let mine = start.elapsed();
            let start = Instant::now();
            let message = tungstenite::Message::text(text);
            for ws in &mut theirs {
                ws.send(message.clone()).await.expect("written");
            }
            let other = start.elapsed();
            if round > 0 {
                best = (best.0.min(mine), best.1.min(other));
            }
        }
        (best.0 / RECIPIENTS as u32, best.1 / RECIPIENTS as u32)
    })
}

fn nanos(time: Duration) -> f64 {
    time.as_secs_f64() * 1e9
}

fn main() {
    let text = message();
    println!(
        "{} recipients, a {}-byte JSON message, best of {ROUNDS} rounds",
        RECIPIENTS,
        text.len()
    );
    println!("| compression | per-connection `send_text` | `PreparedMessage` | tungstenite `send` | prepared vs `send_text` | prepared vs tungstenite |");
    println!("|---|---|---|---|---|---|");
    let tungstenite = tungstenite_each(&text);
    let setups = [
        ("none", None),
        ("`shared` preset (no context)", Some(DeflateConfig::preset(DeflatePreset::Shared))),
        ("`default` preset (context kept)", Some(DeflateConfig::preset(DeflatePreset::Default))),
    ];
    for (name, deflate) in setups {
        let mut connections: Vec<_> = (0..RECIPIENTS).map(|_| open_server(deflate)).collect();
        let each = send_text_each(&mut connections, &text);
        let prepared = send_prepared_each(&mut connections, &text);
        let (each, prepared) = (nanos(each), nanos(prepared));
        match deflate {
            None => {
                let tungstenite = nanos(tungstenite);
                println!(
                    "| {name} | {each:.0} ns | {prepared:.0} ns | {tungstenite:.0} ns | {:.1}× | {:.1}× |",
                    each / prepared,
                    tungstenite / prepared
                );
            }
            Some(_) => println!(
                "| {name} | {each:.0} ns | {prepared:.0} ns | (no permessage-deflate) | {:.1}× | |",
                each / prepared
            ),
        }
    }
    // Last: its 20,000 sockets, once freed, change where the connections above would be
    // allocated, and with it their per-recipient figures (docs/benchmarks.md).
    let (ours_on_tokio, tokio_tungstenite) = on_tokio(&text);
    println!();
    println!("On tokio, no compression: the adapter's `send_prepared` {:.0} ns, tokio-tungstenite's `send` {:.0} ns: {:.1}×",
        nanos(ours_on_tokio), nanos(tokio_tungstenite), nanos(tokio_tungstenite) / nanos(ours_on_tokio));
}
