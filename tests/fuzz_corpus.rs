//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same property
//! checks the cargo-fuzz targets run (`fuzz/checks.rs`), so that `cargo test` on stable keeps
//! every input the fuzzer found interesting passing without a nightly toolchain.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Runs every file of `fuzz/corpus/<target>/` through `check`, and fails naming each input
/// that broke a property (with its bytes in hex) or if the corpus is empty.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());

    let mut failures = String::new();
    for path in &files {
        let data = std::fs::read(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            let hex: String = data.iter().map(|byte| format!("{byte:02x}")).collect();
            writeln!(failures, "  {}: {hex}", path.display()).expect("writing to a String");
        }
    }
    assert!(failures.is_empty(), "{target}: properties failed for\n{failures}");
}

#[test]
fn frame_header_corpus() {
    replay("frame_header", checks::frame_header);
}

#[test]
fn mask_corpus() {
    replay("mask", checks::mask);
}

#[test]
fn utf8_incremental_corpus() {
    replay("utf8_incremental", checks::utf8_incremental);
}

#[test]
fn close_body_corpus() {
    replay("close_body", checks::close_body);
}

#[test]
fn handshake_request_corpus() {
    replay("handshake_request", checks::handshake_request);
}

#[test]
fn handshake_response_corpus() {
    replay("handshake_response", checks::handshake_response);
}

#[test]
fn server_connection_corpus() {
    replay("server_connection", checks::server_connection);
}

#[test]
fn client_connection_corpus() {
    replay("client_connection", checks::client_connection);
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_connection_corpus() {
    replay("deflate_connection", checks::deflate_connection);
}

#[cfg(feature = "deflate")]
#[test]
fn inflate_corpus() {
    replay("inflate", checks::inflate);
}
