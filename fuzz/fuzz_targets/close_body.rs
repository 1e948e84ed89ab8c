//! Fuzzes `CloseBody::parse` and `CloseBody::encode` (RFC 6455 §5.5.1).
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::close_body(data));
