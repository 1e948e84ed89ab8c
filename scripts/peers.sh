# Sourced by scripts/interop.sh and scripts/deflate_memory.sh: installs the peers we measure
# and test against, once, in target/interop (Python `websockets` in a venv, Node `ws` 8), and
# sets `work`, `python` and NODE_PATH for them.
work=target/interop
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ] || ! "$work/venv/bin/python" -c 'import websockets' 2>/dev/null; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet websockets
fi
if [ ! -d "$work/node/node_modules/ws" ]; then
    mkdir -p "$work/node"
    (cd "$work/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund ws@8)
fi
export NODE_PATH="$PWD/$work/node/node_modules"
python="$work/venv/bin/python"
