//! Fuzzes payload masking against its byte-at-a-time oracle (RFC 6455 §5.3).
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::mask(data));
