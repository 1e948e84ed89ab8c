//! Fuzzes a server connection with permessage-deflate negotiated (RFC 7692): compressed,
//! uncompressed, corrupted and raw messages, with every window size and takeover mode.
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::deflate_connection(data));
