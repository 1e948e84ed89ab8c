#!/usr/bin/env bash
# Runs the attack suite (scripts/attack.py) against the example servers, one after another.
#
#   bash scripts/attack.sh [--full] [SERVER...]
#
# SERVER is any of echo_std echo_tokio echo_mio axum chat (default: all five, in that order).
# --full passes the full sizes to attack.py (20,000 connect/close cycles instead of 5,000);
# a CI run takes 60-80 s per server, about 6 minutes in all with a warm build.
#
# For each server: builds the examples once (release, features deflate,tokio,blocking,hyper),
# starts the server on a fresh port (9501 and up, skipping ports in use) and waits for its
# "listening" line, runs attack.py against it, then stops it. The echo servers and axum are
# started with --deflate; the chat takes no such flag but accepts permessage-deflate whenever
# it is built with the feature, so attack.py gets --deflate for every server. Paths: /ws for
# axum, /chat for the chat (--kind chat), / for the echo servers. The attack's connections
# come from 250 loopback addresses (127.0.1.x) in turn, under the servers' per-address caps,
# and the background probe from 127.0.0.1 (see attack.py's --source-addresses).
#
# The servers run from copies in target/attack/bin/, taken right after the build. With
# ATTACK_REV=COMMIT in the environment they are built from that commit instead of the working
# tree (git archive into target/attack/src, built in target/attack/build): to attack a
# known state while the working tree is being edited.
#
# Output, in target/attack/: results.jsonl (every case's JSON line, all servers), results.md
# (a Markdown table per server, printed at the end), SERVER.out (attack.py's output) and
# SERVER.log (the server's stderr). Each server's elapsed time is printed as it finishes.
# The exit status is 1 if any case failed against any server, after all have run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_servers=(echo_std echo_tokio echo_mio axum chat)
full=()
servers=()
for arg in "$@"; do
    case "$arg" in
        --full) full=(--full) ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        echo_std | echo_tokio | echo_mio | axum | chat) servers+=("$arg") ;;
        *) echo "unknown argument: $arg (servers: ${all_servers[*]})" >&2; exit 2 ;;
    esac
done
[ ${#servers[@]} -gt 0 ] || servers=("${all_servers[@]}")

work=target/attack
mkdir -p "$work"
: >"$work/results.jsonl"
: >"$work/results.md"

build_args=(--release --quiet --features deflate,tokio,blocking,hyper --example echo_std
    --example echo_tokio --example echo_mio --example chat --example axum)
if [ -n "${ATTACK_REV:-}" ]; then
    sha=$(git rev-parse --verify "${ATTACK_REV}^{commit}")
    # One tree, extracted afresh with the files' times set to now (tar -m): cargo hashes a
    # workspace by its relative paths, so a tree per commit in one target directory would be
    # taken for the one built before, and commit times can be older than that build.
    tree="$work/src"
    rm -rf "$tree"
    mkdir -p "$tree"
    git archive "$sha" | tar -x -m -C "$tree"
    CARGO_TARGET_DIR="$work/build" cargo build --manifest-path "$tree/Cargo.toml" "${build_args[@]}"
    examples="$work/build/release/examples"
    built_from="commit $sha"
else
    cargo build "${build_args[@]}"
    examples=target/release/examples
    built_from="the working tree at $(git rev-parse --short HEAD)"
    git diff --quiet HEAD -- src examples Cargo.toml || built_from="$built_from, with local changes"
fi
# Private copies: another build in the shared target directory (other features) may replace
# target/release/examples/* while the attack runs.
mkdir -p "$work/bin"
for server in "${all_servers[@]}"; do cp "$examples/$server" "$work/bin/$server"; done
echo "servers built from $built_from" >&2
printf 'Servers built from %s.\n\n' "$built_from" >"$work/results.md"

# Many connections at once, on both sides: the servers inherit this limit.
ulimit -n "$(ulimit -Hn)"

# shellcheck source=scripts/server.sh
source scripts/server.sh

# The URL path, the --kind and the server's own flags for server $1.
path_of() { case "$1" in axum) echo /ws ;; chat) echo /chat ;; *) echo / ;; esac; }
kind_of() { case "$1" in chat) echo chat ;; *) echo echo ;; esac; }
flags_of() { case "$1" in chat) ;; *) echo --deflate ;; esac; }

failed=0
next_port=9501
total_start=$(date +%s)
for server in "${servers[@]}"; do
    port=$(free_port "$next_port")
    next_port=$((port + 1))
    log="$work/$server.log"
    start=$(date +%s)
    # shellcheck disable=SC2046 # flags_of prints zero or one word
    "$work/bin/$server" "127.0.0.1:$port" $(flags_of "$server") >"$log" 2>&1 &
    server_pid=$!
    if ! wait_listening "$log"; then
        echo "== $server did not start; counted as failed" >&2
        stop_server
        failed=1
        continue
    fi
    echo "== $server on port $port (pid $server_pid)" >&2
    status=0
    timeout 600 python3 scripts/attack.py --server "$server" \
        --url "ws://127.0.0.1:$port$(path_of "$server")" --pid "$server_pid" \
        --kind "$(kind_of "$server")" --deflate "${full[@]}" >"$work/$server.out" || status=$?
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "$server exited during the attack (see $log)" >&2
        status=1
    fi
    stop_server
    grep '^{' "$work/$server.out" >>"$work/results.jsonl" || true
    { grep -v '^{' "$work/$server.out" || true; echo; } >>"$work/results.md"
    [ "$status" -eq 0 ] || failed=1
    verdicts=$(grep -o '"verdict": "[A-Z]*"' "$work/$server.out" | sort | uniq -c |
        awk '{printf "%s %s  ", $3, $1}' | tr -d '"')
    echo "== $server: $(( $(date +%s) - start )) s, exit $status; $verdicts" >&2
    # What each failed case saw (the table keeps only its key figures).
    python3 -c 'import json, sys
for line in sys.stdin:
    case = json.loads(line) if line.startswith("{") else {}
    if case.get("verdict") == "FAIL":
        print("   FAIL", case["case"] + ":", case.get("detail", ""))' <"$work/$server.out" >&2
done

cat "$work/results.md"
echo "total: $(( $(date +%s) - total_start )) s; results in $work/results.{jsonl,md}"
exit "$failed"
