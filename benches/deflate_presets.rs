//! permessage-deflate presets on realistic messages: the bytes each preset saves on the wire
//! and how fast a server connection compresses, per corpus (chat events and market ticks from
//! `scripts/message_corpus.py`, fixed seed), measured through `Connection` as a server sends.
//!
//! `scripts/deflate_presets.sh` makes the corpora and runs this; results are recorded in
//! docs/benchmarks.md. Memory per preset is `tests/alloc_count.rs`'s
//! `deflate_memory_per_connection`.

use std::time::{Duration, Instant};

use wsmachine::extensions::deflate::{DeflateConfig, DeflatePreset};
use wsmachine::handshake::ClientHandshake;
use wsmachine::{Config, Connection, Event};

/// A server connection and its client, open with `deflate` on both sides (or none).
fn open_server(deflate: Option<DeflateConfig>) -> Connection {
    let mut config = Config::default();
    config.deflate = deflate;
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
    server
}

/// Wire bytes for sending every message of `corpus` once, and the time it took per round,
/// best of `rounds` (each round on a fresh connection, so context starts empty).
fn send_all(deflate: Option<DeflateConfig>, corpus: &[&str], rounds: usize) -> (usize, Duration) {
    let mut wire = 0;
    let mut best = Duration::MAX;
    let mut out = Vec::with_capacity(1 << 16);
    for _ in 0..rounds {
        let mut server = open_server(deflate);
        wire = 0;
        let start = Instant::now();
        for message in corpus {
            server.sender().send_text(message).expect("open");
            out.clear();
            server.poll_transmit(&mut out);
            wire += out.len();
        }
        best = best.min(start.elapsed());
    }
    (wire, best)
}

fn main() {
    let dir = std::env::var("CORPUS_DIR").unwrap_or_else(|_| "target/corpus".into());
    for kind in ["chat", "ticks"] {
        let path = format!("{dir}/{kind}.jsonl");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (scripts/deflate_presets.sh makes it)"));
        let corpus: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
        let raw: usize = corpus.iter().map(|m| m.len()).sum();
        let (plain_wire, plain_time) = send_all(None, &corpus, 20);
        println!(
            "\n{kind}: {} messages, {raw} bytes ({:.0} bytes on average); uncompressed: {plain_wire} \
             bytes on the wire, {:.0} messages/s",
            corpus.len(),
            raw as f64 / corpus.len() as f64,
            corpus.len() as f64 / plain_time.as_secs_f64()
        );
        println!(
            "| preset | level | wire bytes | saved | of default's saving | messages/s | MB/s |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut default_saved = None;
        let presets = DeflatePreset::ALL.into_iter().flat_map(|preset| {
            let config = DeflateConfig::preset(preset);
            let mut zlib_default = config;
            zlib_default.compression_level = Some(6);
            [(preset, config), (preset, zlib_default)]
        });
        for (preset, config) in presets {
            let (wire, time) = send_all(Some(config), &corpus, 10);
            let saved = 1.0 - wire as f64 / plain_wire as f64;
            let default = *default_saved.get_or_insert(saved);
            // The server sends: its direction's context decides the automatic level.
            let level = config.compressor_settings(config.server_no_context_takeover).level;
            println!(
                "| {preset} | {level}{} | {wire} | {:.1}% | {:.0}% | {:.0} | {:.1} |",
                if config.compression_level.is_none() { " (auto)" } else { "" },
                saved * 100.0,
                saved / default * 100.0,
                corpus.len() as f64 / time.as_secs_f64(),
                raw as f64 / time.as_secs_f64() / 1e6
            );
        }
    }
}
