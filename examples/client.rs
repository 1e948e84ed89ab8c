//! A small WebSocket client for the command line.
//!
//! ```text
//! cargo run --features blocking --example client -- ws://127.0.0.1:9001/ --send hello --send world
//! echo hello | cargo run --features blocking --example client -- ws://127.0.0.1:9001/ --protocol chat
//! ```
//!
//! `client URL [--protocol NAME]... [--header 'K: V']... [--send TEXT]... [--binary HEX]...
//! [--ping TEXT] [--deflate]` connects (offering permessage-deflate with `--deflate`, built with
//! `--features deflate`), sends each TEXT and HEX message in order (or, without either, each
//! line of standard input), prints every text message received on its own line (binary
//! messages as hex) until it has received as many messages as it sent and a Pong for its Ping
//! (reported on standard error), then closes cleanly and exits 0. Any handshake or protocol
//! failure, or a close by the server with a code other than 1000, exits non-zero with one line
//! on standard error naming the cause, after writing what the connection owes the server (the
//! echo of its Close, or the Close a protocol error calls for).

use std::io::{self, BufRead, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use wsmachine::blocking::{connect_with, set_tcp_timeouts, SetTimeout};
use wsmachine::frame::CloseCode;
use wsmachine::handshake::{ClientHandshake, Header, WsUri};
use wsmachine::{Config, Message};

/// What the command line asked for.
pub(crate) struct Options {
    url: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    messages: Option<Vec<Outgoing>>,
    ping: Option<String>,
    /// Offer permessage-deflate (needs the `deflate` feature).
    deflate: bool,
}

/// A message to send.
pub(crate) enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("client: {usage}");
            eprintln!(
                "usage: client URL [--protocol NAME]... [--header 'K: V']... [--send TEXT]..."
            );
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(cause) => {
            eprintln!("client: {cause}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        url: String::new(),
        protocols: Vec::new(),
        headers: Vec::new(),
        messages: None,
        ping: None,
        deflate: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--protocol" => options.protocols.push(value("--protocol")?),
            "--header" => {
                let header = value("--header")?;
                let (name, value) =
                    header.split_once(':').ok_or(format!("header {header:?} lacks ':'"))?;
                options.headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--send" => {
                let text = value("--send")?;
                options.messages.get_or_insert_with(Vec::new).push(Outgoing::Text(text));
            }
            "--binary" => {
                let hex = value("--binary")?;
                let bytes = decode_hex(&hex).ok_or(format!("{hex:?} is not hex"))?;
                options.messages.get_or_insert_with(Vec::new).push(Outgoing::Binary(bytes));
            }
            "--ping" => options.ping = Some(value("--ping")?),
            "--deflate" if cfg!(feature = "deflate") => options.deflate = true,
            "--deflate" => return Err("--deflate needs --features deflate".to_owned()),
            url if options.url.is_empty() && !url.starts_with("--") => options.url = url.to_owned(),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if options.url.is_empty() {
        return Err("a ws:// URL is needed".to_owned());
    }
    Ok(options)
}

impl Options {
    /// Sends one text to `url` and waits for its echo (`tests/lifecycle.rs` runs it).
    #[allow(dead_code)]
    pub(crate) fn for_test(url: &str) -> Options {
        Options {
            url: url.to_owned(),
            protocols: Vec::new(),
            headers: Vec::new(),
            messages: Some(vec![Outgoing::Text("hello".to_owned())]),
            ping: None,
            deflate: false,
        }
    }
}

/// Runs the session `options` describe; the error names the cause of failure. However it
/// ends, the adapter has written what the connection owes the server (the echo of its Close,
/// or the Close a protocol error calls for) by then.
pub(crate) fn run(options: Options) -> Result<(), String> {
    let uri = WsUri::parse(&options.url).map_err(|error| format!("invalid URL: {error}"))?;
    if uri.is_secure() {
        return Err("wss:// needs TLS, which this example does not do (see the TLS example)".into());
    }
    let messages = match options.messages {
        Some(messages) => messages,
        None => io::stdin()
            .lock()
            .lines()
            .map(|line| line.map(Outgoing::Text))
            .collect::<io::Result<_>>()
            .map_err(|e| format!("stdin: {e}"))?,
    };
    let mut handshake = ClientHandshake::for_uri(uri.clone());
    for protocol in &options.protocols {
        handshake = handshake.protocol(protocol);
    }
    for (name, value) in &options.headers {
        handshake =
            handshake.header(Header::new(name, value).map_err(|e| format!("header {name}: {e}"))?);
    }
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    if options.deflate {
        config.deflate = Some(Default::default());
    }
    let stream = TcpStream::connect((uri.host(), uri.port()))
        .map_err(|e| format!("cannot connect to {}:{}: {e}", uri.host(), uri.port()))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let set_timeout = Some(set_tcp_timeouts as SetTimeout<TcpStream>);
    let mut ws = connect_with(stream, handshake, config, set_timeout).map_err(|e| e.to_string())?;
    for extension in ws.negotiated().extensions() {
        eprintln!("extension: {extension}");
    }

    let mut awaiting_pong = false;
    if let Some(ping) = &options.ping {
        ws.send(Message::Ping(ping.clone().into_bytes().into())).map_err(|e| e.to_string())?;
        awaiting_pong = true;
    }
    for message in &messages {
        let message = match message {
            Outgoing::Text(text) => Message::from(text.as_str()),
            Outgoing::Binary(data) => Message::from(&data[..]),
        };
        ws.send(message).map_err(|e| e.to_string())?;
    }
    let stdout = io::stdout();
    let mut received = 0;
    while received < messages.len() || awaiting_pong {
        match ws.read() {
            Some(Ok(Message::Text(text))) => {
                received += 1;
                writeln!(stdout.lock(), "{}", text.as_str()).map_err(|e| e.to_string())?;
            }
            Some(Ok(Message::Binary(data))) => {
                received += 1;
                let hex: String = data.iter().map(|byte| format!("{byte:02x}")).collect();
                writeln!(stdout.lock(), "{hex}").map_err(|e| e.to_string())?;
            }
            Some(Ok(Message::Pong(payload))) => {
                eprintln!("pong {}", String::from_utf8_lossy(&payload));
                awaiting_pong = false;
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.to_string()),
            None => {
                return Err(match ws.close_frame() {
                    Some(close) => {
                        format!("server closed with {}: {:?}", close.code, close.reason.as_str())
                    }
                    None => "connection ended before every reply came".to_owned(),
                })
            }
        }
    }
    ws.close(CloseCode::NORMAL, "").map_err(|e| e.to_string())
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}
