# The example server one of the load scripts runs (sourced by attack.sh and soak.sh): its pid,
# stopping it on exit, waiting for it to listen, and a free port.

server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap stop_server EXIT

# Waits (at most 10 s) for a line containing "listening" in the log $1.
wait_listening() {
    for _ in $(seq 100); do grep -q listening "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "no listening line in $1" >&2
    cat "$1" >&2
    return 1
}

# The first port from $1 on that nothing listens on.
free_port() {
    local port=$1
    while [ -n "$(ss -Htln "sport = :$port")" ]; do port=$((port + 1)); done
    echo "$port"
}
