//! Fuzzes the handshake response of the opening handshake (RFC 6455 §4).
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::handshake_response(data));
