//! Fuzzes `Utf8Validator` against `core::str::from_utf8` with the text fed in pieces
//! (RFC 6455 §8.1).
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::utf8_incremental(data));
