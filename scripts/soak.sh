#!/usr/bin/env bash
# Runs the soak test (scripts/soak.py) against echo_mio (the sans-IO API) and echo_tokio (the
# tokio adapter), one after the other, with permessage-deflate on.
#
#   bash scripts/soak.sh [--seconds N] [--connections N] [SERVER...]
#
# CI runs it for 60 s a server (the default); by hand, `--seconds 3600` is the full run,
# recorded in docs/security.md. Each server keeps --connections (default 2,000) sessions of
# random lifetimes, sizes, fragmentation, compression and Pings, ended cleanly, by a reset or
# by a bare FIN, every echo checked byte for byte; the server's RSS and descriptors must stay
# flat (see soak.py for the verdict). Results: target/soak/results.jsonl, one JSON line a
# server; the exit status is 1 if any server failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=60
connections=2000
servers=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift ;;
        --connections) connections=$2; shift ;;
        echo_mio | echo_tokio) servers+=("$1") ;;
        *) echo "unknown argument: $1 (servers: echo_mio echo_tokio)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#servers[@]} -gt 0 ] || servers=(echo_mio echo_tokio)

work=target/soak
mkdir -p "$work/bin"
: >"$work/results.jsonl"
cargo build --release --quiet --features deflate,tokio --example echo_mio --example echo_tokio
# Private copies: another build may replace target/release/examples/* meanwhile.
for server in echo_mio echo_tokio; do
    # Unlinked first: a soak running beside this one may be running the old copy.
    cp --remove-destination "target/release/examples/$server" "$work/bin/"
done
ulimit -n "$(ulimit -Hn)"

# shellcheck source=scripts/server.sh
source scripts/server.sh

failed=0
port=9601
for server in "${servers[@]}"; do
    port=$(free_port "$port")
    log="$work/$server.log"
    "$work/bin/$server" "127.0.0.1:$port" --deflate >"$log" 2>&1 &
    server_pid=$!
    wait_listening "$log" || { echo "$server did not start" >&2; failed=1; stop_server; continue; }
    start=$(date +%s)
    status=0
    python3 scripts/soak.py --server "$server" --url "ws://127.0.0.1:$port/" \
        --pid "$server_pid" --seconds "$seconds" --connections "$connections" --deflate \
        >>"$work/results.jsonl" || status=$?
    kill -0 "$server_pid" 2>/dev/null || { echo "$server exited (see $log)" >&2; status=1; }
    stop_server
    echo "== $server: $(( $(date +%s) - start )) s, exit $status: $(tail -n 1 "$work/results.jsonl")"
    [ "$status" -eq 0 ] || failed=1
    port=$((port + 1))
done
exit "$failed"
