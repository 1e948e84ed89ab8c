#!/usr/bin/env bash
# Memory per compressed connection, ours (echo_mio, every preset) against python-websockets and
# Node ws: installs the peers as scripts/interop.sh does, builds echo_mio, and runs
# scripts/deflate_memory.py with the arguments given. Recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/peers.sh
source scripts/peers.sh
cargo build --release --quiet --features deflate --example echo_mio
python3 scripts/deflate_memory.py "$@"
