//! Fuzzes a whole client connection after its opening handshake (RFC 6455 §5–§8).
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::client_connection(data));
