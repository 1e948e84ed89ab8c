#!/usr/bin/env bash
# Interop with other stacks over loopback TCP: our echo servers (echo_std on the blocking
# adapter, plain, with permessage-deflate and with each compression preset; echo_tokio and the axum example on the tokio
# adapter) against Python `websockets` and Node `ws` clients (text, binary, ping, 1 MiB, close
# code 4000), and our client CLI against their echo servers (text, binary, ping, a 100 kB
# message, and a server close with code 4001, whose echo the server must get), and a wss://
# round trip over rustls.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/peers.sh
source scripts/peers.sh
cargo build --release --quiet --features deflate,tokio,blocking,hyper --example echo_std \
    --example echo_tokio --example axum --example client --example tls

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Waits (at most 10 s) for a line containing "listening" in the log $1.
wait_listening() {
    for _ in $(seq 100); do grep -q listening "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "no listening line in $1" >&2; cat "$1" >&2; return 1
}

# Our server, their clients.
target/release/examples/echo_std 127.0.0.1:9401 >"$work/echo_std.log" 2>&1 &
pids+=($!)
wait_listening "$work/echo_std.log"
timeout 60 "$python" tests/interop/python_peer.py client ws://127.0.0.1:9401/
timeout 60 node tests/interop/node_peer.js client ws://127.0.0.1:9401/

# Our server with permessage-deflate, their clients offering it (RFC 7692).
target/release/examples/echo_std 127.0.0.1:9403 --deflate >"$work/echo_std_deflate.log" 2>&1 &
pids+=($!)
wait_listening "$work/echo_std_deflate.log"
EXPECT_DEFLATE=1 timeout 60 "$python" tests/interop/python_peer.py client ws://127.0.0.1:9403/
EXPECT_DEFLATE=1 timeout 60 node tests/interop/node_peer.js client ws://127.0.0.1:9403/
echo "their clients against our server with permessage-deflate: ok"

# Every compression preset (RFC 7692's window and context parameters as each asks for them).
for preset in balanced small smallest shared; do
    target/release/examples/echo_std 127.0.0.1:9406 --deflate-preset "$preset" \
        >"$work/echo_std_$preset.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_listening "$work/echo_std_$preset.log"
    EXPECT_DEFLATE=1 timeout 60 "$python" tests/interop/python_peer.py client ws://127.0.0.1:9406/
    EXPECT_DEFLATE=1 timeout 60 node tests/interop/node_peer.js client ws://127.0.0.1:9406/
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "their clients against our server with the $preset preset: ok"
done

# The tokio adapter's echo, and the axum example (a WebSocket at /ws, plain HTTP at /).
target/release/examples/echo_tokio 127.0.0.1:9405 --deflate >"$work/echo_tokio.log" 2>&1 &
pids+=($!)
wait_listening "$work/echo_tokio.log"
EXPECT_DEFLATE=1 timeout 60 "$python" tests/interop/python_peer.py client ws://127.0.0.1:9405/
EXPECT_DEFLATE=1 timeout 60 node tests/interop/node_peer.js client ws://127.0.0.1:9405/
target/release/examples/axum 127.0.0.1:9404 --deflate >"$work/axum.log" 2>&1 &
pids+=($!)
wait_listening "$work/axum.log"
EXPECT_DEFLATE=1 timeout 60 "$python" tests/interop/python_peer.py client ws://127.0.0.1:9404/ws
EXPECT_DEFLATE=1 timeout 60 node tests/interop/node_peer.js client ws://127.0.0.1:9404/ws
page=$(timeout 10 "$python" -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9404/").read().decode())')
case "$page" in
    *"WebSocket echo lives at /ws"*) ;;
    *) echo "the axum example's / answered: $page" >&2; exit 1 ;;
esac
echo "their clients against echo_tokio and the axum example: ok"

# Their servers, our client.
big=$(head -c 100000 /dev/zero | tr '\0' 'y')
for peer in python node; do
    log="$work/$peer-server.log"
    # Their servers accept permessage-deflate (Python's by default, Node's when asked).
    if [ "$peer" = python ]; then
        "$python" tests/interop/python_peer.py server 9402 >"$log" 2>&1 &
    else
        EXPECT_DEFLATE=1 node tests/interop/node_peer.js server 9402 >"$log" 2>&1 &
    fi
    pids+=($!)
    wait_listening "$log"
    got=$(timeout 60 target/release/examples/client ws://127.0.0.1:9402/ --send "héllo" \
        --binary 00ff10 --send "$big" --ping rtt 2>"$work/client-stderr.log")
    expected=$(printf 'héllo\n00ff10\n%s' "$big")
    [ "$got" = "$expected" ] || { echo "our client against $peer: wrong echo" >&2; exit 1; }
    grep -qx "pong rtt" "$work/client-stderr.log" || { echo "our client against $peer: no pong" >&2; exit 1; }
    if out=$(timeout 60 target/release/examples/client ws://127.0.0.1:9402/ --send close-4001 2>&1); then
        echo "our client against $peer: a 4001 close should fail the CLI" >&2; exit 1
    fi
    case "$out" in
        *"server closed with 4001"*) ;;
        *) echo "our client against $peer: unexpected: $out" >&2; exit 1 ;;
    esac
    if [ "$peer" = python ]; then
        sleep 0.2
        grep -q "close echoed: 4001" "$log" \
            || { echo "our client did not echo the server's 4001: $(cat "$log")" >&2; exit 1; }
    fi
    # The same with our client offering permessage-deflate.
    got=$(timeout 60 target/release/examples/client ws://127.0.0.1:9402/ --deflate --send "héllo" \
        --binary 00ff10 --send "$big" 2>"$work/client-stderr.log")
    [ "$got" = "$(printf 'héllo\n00ff10\n%s' "$big")" ] || { echo "our deflate client against $peer: wrong echo" >&2; exit 1; }
    grep -q "^extension: permessage-deflate" "$work/client-stderr.log" \
        || { echo "our client against $peer: permessage-deflate not negotiated" >&2; exit 1; }
    kill "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null || true
    echo "our client against $peer server: ok (plain and with permessage-deflate)"
done

# wss://: our server and client over rustls with a self-signed certificate.
timeout 60 target/release/examples/tls 127.0.0.1:0 --once | grep -q "client received: hello over TLS"
echo "wss (rustls) round trip: ok"
