//! Fuzzes our own DEFLATE inflater (small windows) against zlib-rs's (RFC 1951, RFC 7692
//! §7.2.2): the same verdict and bytes, in any input pieces and output room.
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::inflate(data));
