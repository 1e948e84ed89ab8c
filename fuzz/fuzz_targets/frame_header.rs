//! Fuzzes `FrameHeader::parse` and `FrameHeader::encode` (RFC 6455 §5.2).
//!
//! The properties live in `fuzz/checks.rs`, shared with `tests/fuzz_corpus.rs`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::frame_header(data));
