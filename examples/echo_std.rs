//! An echo server on blocking `std::net`, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_std -- 127.0.0.1:9001
//! cargo run --release --features deflate --example echo_std -- 127.0.0.1:9001 --deflate
//! ```
//!
//! `--deflate=N` sends messages shorter than N bytes uncompressed.
//!
//! Every text and binary message is sent back; the closing handshake is answered. The three
//! deadlines a real deployment needs are applied with socket read timeouts, chosen from what
//! the connection says it is waiting for: the handshake, idle time between messages, and the
//! peer's reply to a Close. A bad peer ends its own connection, never the server.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use wsmachine::handshake::{Header, Rejection};
use wsmachine::{Config, Connection, Event, Waiting};

const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
const IDLE_DEADLINE: Duration = Duration::from_secs(120);
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

fn main() -> io::Result<()> {
    let address = address_from_args();
    let config = config_from_args();
    let listener = TcpListener::bind(&address)?;
    eprintln!("echo_std listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
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

/// Serves one connection until it is over or a deadline passes.
fn serve(mut stream: TcpStream, config: Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut connection = Connection::server(config);
    let mut input = vec![0u8; 64 * 1024];
    let mut output = Vec::new();
    loop {
        let deadline = match connection.waiting_for() {
            Waiting::Request | Waiting::Response => HANDSHAKE_DEADLINE,
            Waiting::CloseReply | Waiting::TransportClose => CLOSE_DEADLINE,
            _ => IDLE_DEADLINE,
        };
        stream.set_read_timeout(Some(deadline))?;
        match stream.read(&mut input) {
            Ok(0) => connection.receive_eof(),
            Ok(read) => connection.receive(&input[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break; // the deadline passed: drop the connection
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
        while let Some(event) = connection.poll_event() {
            match event {
                Ok(Event::Request(request)) => {
                    // An origin policy would look at request.request().origin() here.
                    connection.accept(request.accept()).expect("nothing unoffered is selected");
                }
                Ok(Event::HttpRequest(_)) => connection.reject(
                    &Rejection::new(426)
                        .with_header(Header::new("Sec-WebSocket-Version", "13").expect("valid"))
                        .with_body("this is a WebSocket echo server\n"),
                ),
                Ok(Event::Text(text)) => {
                    let _ = connection.send_text(text.as_str());
                }
                Ok(Event::Binary(data)) => {
                    let _ = connection.send_binary(&data);
                }
                Ok(_) => {}
                Err(error) => eprintln!("peer broke the protocol: {error}"),
            }
        }
        output.clear();
        connection.poll_transmit(&mut output);
        stream.write_all(&output)?;
        if connection.should_close_transport() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// The configuration: permessage-deflate with `--deflate` (built with `--features deflate`);
/// `--deflate=N` sends messages under N bytes uncompressed.
fn config_from_args() -> Config {
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut config = Config::default();
    if let Some(flag) = std::env::args().find(|arg| arg.starts_with("--deflate")) {
        #[cfg(feature = "deflate")]
        {
            let mut deflate = wsmachine::extensions::deflate::DeflateConfig::default();
            let threshold = flag.strip_prefix("--deflate=").and_then(|n| n.parse().ok());
            deflate.compression_threshold = threshold.unwrap_or(0);
            config.deflate = Some(deflate);
        }
        #[cfg(not(feature = "deflate"))]
        {
            let _ = flag;
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
