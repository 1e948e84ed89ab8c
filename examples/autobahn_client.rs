//! The Autobahn TestSuite client driver: runs every case of a fuzzing server against this
//! crate's client, echoing every message, then asks the server to write its reports.
//!
//! ```text
//! kosoku -m fuzzingserver 127.0.0.1:9001 &
//! cargo run --release --features blocking --example autobahn_client -- ws://127.0.0.1:9001 --agent wsmachine
//! # permessage-deflate (cases 12.x and 13.x):
//! cargo run --release --features blocking,deflate --example autobahn_client -- ws://127.0.0.1:9001 --deflate
//! ```
//!
//! `--deflate-preset NAME` offers permessage-deflate with a `DeflatePreset` (default, balanced,
//! small, smallest, shared) instead of the default.
//!
//! `--keepalive=SECONDS` sets the keepalive interval (0: no keepalive Pings; default 20 s):
//! scripts/autobahn.sh gives 120, since the suite's strict check counts a keepalive Ping in
//! its longest cases as a frame it did not expect.

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use wsmachine::blocking::{connect_with, set_tcp_timeouts, SetTimeout};
use wsmachine::handshake::{ClientHandshake, WsUri};
use wsmachine::{Config, Message};

fn main() -> ExitCode {
    let mut base = "ws://127.0.0.1:9001".to_owned();
    let mut agent = "wsmachine".to_owned();
    let mut config = Config::default();
    // The suite's largest messages are 16 MiB (9.1.6, 9.2.6); the default is 1 MiB.
    config.max_message_len = 64 << 20;
    config.max_frame_len = 64 << 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--agent" => agent = args.next().unwrap_or(agent),
            "--deflate" => {
                #[cfg(feature = "deflate")]
                {
                    config.deflate = Some(Default::default());
                }
                #[cfg(not(feature = "deflate"))]
                {
                    eprintln!("--deflate needs the deflate feature: cargo run --features deflate");
                    return ExitCode::from(2);
                }
            }
            "--deflate-preset" => {
                let name = args.next().unwrap_or_default();
                #[cfg(feature = "deflate")]
                {
                    use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
                    match name.parse::<DeflatePreset>() {
                        Ok(preset) => config.deflate = Some(DeflateConfig::preset(preset)),
                        Err(unknown) => {
                            eprintln!("--deflate-preset: {unknown}");
                            return ExitCode::from(2);
                        }
                    }
                }
                #[cfg(not(feature = "deflate"))]
                {
                    eprintln!("--deflate-preset {name} needs the deflate feature");
                    return ExitCode::from(2);
                }
            }
            keepalive if keepalive.starts_with("--keepalive=") => {
                // Seconds between keepalive Pings, 0 for none (see scripts/autobahn.sh).
                let seconds = keepalive["--keepalive=".len()..].parse().unwrap_or(20);
                config.keepalive_interval = (seconds > 0).then(|| Duration::from_secs(seconds));
            }
            url => base = url.trim_end_matches('/').to_owned(),
        }
    }
    match run_suite(&base, &agent, config) {
        Ok(count) => {
            eprintln!("ran {count} cases; reports updated for agent {agent}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("autobahn_client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_suite(base: &str, agent: &str, config: Config) -> io::Result<u32> {
    // kosoku prints its "listening" line a moment before it answers: early connections are
    // reset, so the first request is retried for a few seconds.
    let mut attempts = 0;
    let count_text = loop {
        match session(&format!("{base}/getCaseCount"), false, config) {
            Err(error) if attempts < 40 && error.kind() != ErrorKind::InvalidInput => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(250));
                let _ = error;
            }
            result => break result?,
        }
    };
    let count: u32 = count_text.trim().parse().map_err(|_| {
        io::Error::new(ErrorKind::InvalidData, format!("case count {count_text:?}"))
    })?;
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(error) = session(&url, true, config) {
            eprintln!("case {case}: {error}"); // a case may end the connection rudely
        }
    }
    session(&format!("{base}/updateReports?agent={agent}"), false, config)?;
    Ok(count)
}

/// Runs one connection to `url` until it ends; echoes messages when `echo`, and returns the
/// last text message received.
fn session(url: &str, echo: bool, config: Config) -> io::Result<String> {
    let invalid =
        |error: &dyn std::fmt::Display| io::Error::new(ErrorKind::InvalidInput, error.to_string());
    let uri = WsUri::parse(url).map_err(|e| invalid(&e))?;
    let stream = TcpStream::connect((uri.host(), uri.port()))?;
    stream.set_nodelay(true)?;
    let set_timeout = Some(set_tcp_timeouts as SetTimeout<TcpStream>);
    let mut ws = connect_with(stream, handshake(uri, &config), config, set_timeout)?;
    let mut last_text = String::new();
    while let Some(next) = ws.read() {
        match next {
            Ok(Message::Text(text)) => {
                last_text = text.as_str().to_owned();
                if echo {
                    let _closing = ws.send(Message::Text(text));
                }
            }
            Ok(message @ Message::Binary(_)) if echo => {
                let _closing = ws.send(message);
            }
            // A case may end the connection rudely; the Close the error owes is written.
            Ok(_) | Err(_) => {}
        }
    }
    Ok(last_text)
}

/// The opening handshake. With permessage-deflate it carries two offers, in order of
/// preference: the default one, then one with `client_no_context_takeover`. RFC 7692 lets a
/// server ask for that parameter either way (§7.1.1.2), but the Autobahn cases 13.2, 13.5 and
/// 13.6 ask for it only from an offer that names it.
fn handshake(uri: WsUri, config: &Config) -> ClientHandshake {
    let handshake = ClientHandshake::for_uri(uri);
    #[cfg(feature = "deflate")]
    if let Some(deflate) = config.deflate {
        let mut forgetful = deflate;
        forgetful.client_no_context_takeover = true;
        return handshake.extension(deflate.offer()).extension(forgetful.offer());
    }
    let _ = config;
    handshake
}
