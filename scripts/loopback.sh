#!/usr/bin/env bash
# Loopback echo benchmark: wsmachine's echo_mio and echo_tokio examples against echo servers on
# other WebSocket libraries, driven by a load client that uses no WebSocket library.
#
#   scripts/loopback.sh                      # everything (about 3 minutes)
#   LOOPBACK_QUICK=1 scripts/loopback.sh     # a smoke run: 3 scenarios, 1 s each, 500 idle
#
# Settings (environment):
#   LOOPBACK_SECONDS    seconds of load per run, a whole number (default 3; 1 when quick)
#   LOOPBACK_REPEAT     runs of every scenario (default 1); the tables take the median, and
#                       the rotation goes on, so each repeat has its own server order
#   LOOPBACK_SCENARIOS  space-separated MODE:SIZE:CONNS, e.g. "stream:16:1 oneshot:16:100"
#   LOOPBACK_SERVERS    space-separated servers (default: all, see below)
#   LOOPBACK_IDLE_CONNS connections for the idle-memory run (default 5000; 0 skips it)
#   LOOPBACK_IDLE_SETTLE seconds between the last idle connection and the RSS sample (default 2)
#   LOOPBACK_IDLE_LATE  if set, a second RSS sample this many seconds after the last connection
#                       (35 shows echo_mio's release of quiet connections' buffers after 30 s)
#   LOOPBACK_PORT       first TCP port (default 28100); every server start takes the next one
#   LOOPBACK_REV        build echo_mio and echo_tokio from this commit (git archive into
#                       target/loopback/src-SHA, built in target/loopback-rev) instead of the
#                       working tree: to compare commits, or while the tree does not build
#
# Servers: echo_mio, echo_tokio (this crate's examples, release build: echo_tokio on the tokio
# adapter's borrowed path); wsmachine-obvious (the adapter written the obvious way: recv, then
# send), wsmachine-handtuned (the hand-tuned tokio loop echo_tokio was before the adapter),
# tungstenite-batched, tungstenite-simple, fastwebsockets, tokio-websockets
# (benches/loopback/src/bin/peer_echo.rs, all on a tokio current_thread runtime); raw-copy (a
# 101 and then a byte copy: the ceiling).
# The load client is benches/loopback/src/bin/load.rs (std only).
#
# Each scenario runs every server in turn, in an order rotated from one scenario to the next,
# each on a fresh process and port; the load client reads the server's utime + stime from
# /proc/PID/stat over the measured interval (CPU ns per message), and the CPU the rest of the
# machine used meanwhile (noise from other work on the machine). The idle-memory run opens the
# connections one by one, echoes one message on each, and compares the server's VmRSS with
# the RSS after one warm-up connection.
#
# Output: target/loopback/results.json (one record per run), target/loopback/results.md
# (the tables, also printed), target/loopback/loopback.svg (the chart; to update the committed
# one: scripts/loopback_chart.py target/loopback/results.json docs/loopback.svg "NOTE"), and server
# logs in target/loopback/logs/. Loopback only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)

out=target/loopback
bin=target/loopback-build/release
quick=${LOOPBACK_QUICK:-0}
if [ "$quick" = 1 ]; then
    seconds=${LOOPBACK_SECONDS:-1}
    scenarios=${LOOPBACK_SCENARIOS:-"stream:16:1 stream:65536:1 oneshot:16:1"}
    idle_conns=${LOOPBACK_IDLE_CONNS:-500}
else
    seconds=${LOOPBACK_SECONDS:-3}
    scenarios=${LOOPBACK_SCENARIOS:-"stream:16:1 stream:16:100 stream:1024:1 stream:65536:1 \
stream:1048576:1 oneshot:16:1 oneshot:16:100"}
    idle_conns=${LOOPBACK_IDLE_CONNS:-5000}
fi
servers=${LOOPBACK_SERVERS:-"echo_mio echo_tokio wsmachine-obvious wsmachine-handtuned \
tungstenite-batched tungstenite-simple fastwebsockets tokio-websockets raw-copy"}
repeat=${LOOPBACK_REPEAT:-1}
idle_settle=${LOOPBACK_IDLE_SETTLE:-2}
idle_late=${LOOPBACK_IDLE_LATE:-}
port=${LOOPBACK_PORT:-28100}
clk_tck=$(getconf CLK_TCK)

# 5,000 connections need 5,000 descriptors on each side; both inherit this limit (65536, or
# the hard limit if that is lower).
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
if [ "$(ulimit -n)" -lt $((idle_conns + 100)) ]; then
    echo "ulimit -n is $(ulimit -n): too few descriptors for $idle_conns connections" >&2
    exit 1
fi

echo "building (release, nice 19)..." >&2
if [ -n "${LOOPBACK_REV:-}" ]; then
    sha=$(git rev-parse --verify "${LOOPBACK_REV}^{commit}")
    built_from="commit $sha"
    tree="$out/src-$sha"
    if [ ! -f "$tree/Cargo.toml" ]; then
        mkdir -p "$tree"
        git archive "$sha" | tar -x -C "$tree"
    fi
    # echo_tokio needs the tokio adapter's feature since the crate has one.
    rev_features=()
    grep -q '^tokio = \[' "$tree/Cargo.toml" && rev_features=(--features tokio)
    CARGO_TARGET_DIR=target/loopback-rev nice -n 19 cargo build --release --quiet \
        --manifest-path "$tree/Cargo.toml" "${rev_features[@]}" --example echo_mio --example echo_tokio
    examples=target/loopback-rev/release/examples
else
    built_from="the working tree at $(git rev-parse --short HEAD)"
    git diff --quiet HEAD -- src examples Cargo.toml || built_from="$built_from, with local changes"
    nice -n 19 cargo build --release --quiet --features tokio --example echo_mio --example echo_tokio
    examples=target/release/examples
fi
echo "echo_mio and echo_tokio from $built_from" >&2
CARGO_TARGET_DIR=target/loopback-build nice -n 19 \
    cargo build --release --quiet --manifest-path benches/loopback/Cargo.toml --bins

rm -rf "$out/logs"
mkdir -p "$out/logs"
records="$out/results.jsonl"
: >"$records"
failures=0
server_pid=

server_command() {
    case "$1" in
        # Every load connection comes from 127.0.0.1: lift the examples' caps on connections
        # (older builds ignore the flags).
        echo_mio | echo_tokio) echo "$examples/$1 --max-connections=1000000 --max-per-address=1000000" ;;
        *) echo "$bin/peer_echo $1" ;;
    esac
}

# Starts server $1 on the next port; sets server_pid, server_addr and server_log.
start_server() {
    port=$((port + 1))
    server_addr="127.0.0.1:$port"
    server_log="$out/logs/$1-$port.log"
    # shellcheck disable=SC2046 # the command is words on purpose
    $(server_command "$1") "$server_addr" >"$server_log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q listening "$server_log" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$1 did not start:" >&2
    cat "$server_log" >&2
    return 1
}

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

# Records a failed run of server $1 in scenario $2 and shows why.
failed() {
    failures=$((failures + 1))
    echo "FAILED: $1 $2 (server log $server_log):" >&2
    tail -5 "$server_log" >&2
    printf '{"server":"%s","scenario":"%s","error":true}\n' "$1" "$2" >>"$records"
}

# Runs the servers in the order rotated by $1 places.
rotated() {
    local -a list
    read -r -a list <<<"$servers"
    local n=${#list[@]} i
    for ((i = 0; i < n; i++)); do echo "${list[$(((i + $1) % n))]}"; done
}

index=0
for scenario in $(for _ in $(seq "$repeat"); do echo "$scenarios"; done); do
    IFS=: read -r mode size conns <<<"$scenario"
    echo "== $mode ${size} B x$conns, ${seconds} s per server" >&2
    for server in $(rotated "$index"); do
        start_server "$server" || { failed "$server" "$scenario"; continue; }
        extra=()
        [ "$server" = raw-copy ] && extra=(--echo-masked)
        if line=$(timeout $((seconds * 4 + 60)) "$bin/load" --addr "$server_addr" \
            --server "$server" --mode "$mode" --size "$size" --conns "$conns" \
            --seconds "$seconds" --server-pid "$server_pid" --clk-tck "$clk_tck" \
            "${extra[@]}"); then
            echo "$line" >>"$records"
            echo "   $line" >&2
        else
            failed "$server" "$scenario"
        fi
        stop_server
    done
    index=$((index + 1))
done

if [ "$idle_conns" -gt 0 ]; then
    echo "== idle memory: $idle_conns connections, RSS after ${idle_settle} s" \
        "${idle_late:+and ${idle_late} s}" >&2
    for server in $(rotated "$index"); do
        [ "$server" = raw-copy ] && continue # not a WebSocket server: nothing to compare
        start_server "$server" || { failed "$server" idle; continue; }
        late=()
        [ -n "$idle_late" ] && late=(--late "$idle_late")
        if line=$(timeout $((idle_conns / 50 + 120 + ${idle_late:-0})) "$bin/load" \
            --addr "$server_addr" --server "$server" --mode idle --conns "$idle_conns" \
            --server-pid "$server_pid" --settle "$idle_settle" "${late[@]}"); then
            echo "$line" >>"$records"
            echo "   $line" >&2
        else
            failed "$server" idle
        fi
        stop_server
    done
fi

{
    echo "["
    sed '$!s/$/,/' "$records"
    echo "]"
} >"$out/results.json"
{
    echo "wsmachine's echo_mio and echo_tokio built from $built_from; ${seconds} s per run."
    echo
    python3 scripts/loopback_table.py "$out/results.json"
} >"$out/results.md"
python3 scripts/loopback_chart.py "$out/results.json" "$out/loopback.svg" \
    "scripts/loopback.sh, $(date -u +%Y-%m-%d): echo_mio and echo_tokio from $built_from; \
${seconds} s per run."
cat "$out/results.md"
echo "took $(($(date +%s) - started)) s; results in $out/ (chart: $out/loopback.svg)" >&2
if [ "$failures" -gt 0 ]; then
    echo "$failures run(s) failed" >&2
    exit 1
fi
