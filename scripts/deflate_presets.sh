#!/usr/bin/env bash
# The permessage-deflate presets on realistic messages: makes the two corpora (fixed seed) and
# prints, per corpus and preset, the wire bytes saved and the server's sending rate
# (benches/deflate_presets.rs). Recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p target/corpus
for kind in chat ticks; do
    python3 scripts/message_corpus.py "$kind" >"target/corpus/$kind.jsonl"
done
cargo bench --quiet --features deflate --bench deflate_presets
