#!/usr/bin/env python3
"""Memory per compressed connection: our echo_mio with each permessage-deflate preset, against
python-websockets' and Node ws's defaults, measured the same way in one run.

Usage: scripts/deflate_memory.sh [--connections 1000] [--idle-wait 35] [--servers LIST]

For each server: start it, open one warm-up connection and sample its RSS (VmRSS), then open
N connections that each offer permessage-deflate as a browser does
("permessage-deflate; client_max_window_bits"), send one compressed 1,036-byte JSON-like text
message (as in tests/alloc_count.rs) and read its echo. RSS is sampled once every echo is back
("with traffic") and again after --idle-wait seconds with every connection still open and
quiet ("idle": echo_mio gives a quiet connection's buffers back on its 30 s sweep; the others
keep what they hold). Figures are the RSS growth over the warm-up sample, per connection.

Servers (--servers, comma-separated): ours:none (echo_mio without compression: the baseline),
ours:PRESET for each DeflatePreset name, python (websockets' asyncio server with its default
compression: 12-bit windows, memLevel 5), node (ws with perMessageDeflate: true, whose defaults
are zlib's: 15-bit windows, memLevel 8). Prints a Markdown table.
"""

import argparse
import asyncio
import base64
import os
import resource
import socket
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESSAGE = ('{"user":"ada","text":"hello, world"} ' * 28).encode()
PRESETS = ["default", "balanced", "small", "smallest", "shared"]

PYTHON_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=None, ping_interval=None):
        print("listening", flush=True)
        await asyncio.get_running_loop().create_future()
asyncio.run(main())
"""

NODE_SERVER = """
const WebSocket = require('ws');
const wss = new WebSocket.Server({ host: '127.0.0.1', port: Number(process.argv[1]),
                                   perMessageDeflate: true });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => console.log('listening'));
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def masked(payload: bytes, key: bytes) -> bytes:
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big")


def compressed_frame() -> bytes:
    """One masked text frame holding MESSAGE, compressed as RFC 7692 §7.2.1 says."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(MESSAGE) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    data = data[:-4]
    key = os.urandom(4)
    assert len(data) < 126
    return bytes([0xC1, 0x80 | len(data)]) + key + masked(data, key)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return head[0], await reader.readexactly(length)


async def open_one(port: int, frame: bytes, extensions: list[str]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                  "\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    negotiated = ""
    for line in head.decode().split("\r\n"):
        if line.lower().startswith("sec-websocket-extensions:"):
            negotiated = line.split(":", 1)[1].strip()
    extensions.append(negotiated)
    compressed = negotiated.startswith("permessage-deflate")
    if compressed:
        writer.write(frame)
    else:
        key = os.urandom(4)
        writer.write(bytes([0x81, 0xFE]) + len(MESSAGE).to_bytes(2, "big") + key
                     + masked(MESSAGE, key))
    await writer.drain()
    first, payload = await read_frame(reader)
    if compressed:
        assert first & 0x40, "the echo is compressed"
        payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
    assert payload == MESSAGE, "the echo matches"
    return reader, writer


def start(server: str, port: int) -> subprocess.Popen:
    if server.startswith("ours:"):
        preset = server.split(":", 1)[1]
        args = [f"{ROOT}/target/release/examples/echo_mio", f"127.0.0.1:{port}",
                "--max-connections=100000", "--max-per-address=100000", "--keepalive=0"]
        if preset != "none":
            args.append(f"--deflate-preset={preset}")
    elif server == "python":
        args = [f"{ROOT}/target/interop/venv/bin/python", "-c", PYTHON_SERVER, str(port)]
    elif server == "node":
        args = ["node", "-e", NODE_SERVER, str(port)]
    else:
        raise SystemExit(f"unknown server {server}")
    env = dict(os.environ, NODE_PATH=f"{ROOT}/target/interop/node/node_modules")
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{server} does not listen on {port}")


async def measure(server: str, port: int, connections: int, idle_wait: float) -> dict:
    process = start(server, port)
    try:
        frame = compressed_frame()
        extensions: list[str] = []
        warm = await open_one(port, frame, extensions)
        await asyncio.sleep(0.5)
        base = rss_kib(process.pid)
        held = [warm]
        for start_at in range(0, connections, 100):
            batch = min(100, connections - start_at)
            held += await asyncio.gather(*(open_one(port, frame, extensions)
                                           for _ in range(batch)))
        await asyncio.sleep(1.0)
        traffic = rss_kib(process.pid)
        await asyncio.sleep(idle_wait)
        idle = rss_kib(process.pid)
        for _, writer in held:
            writer.close()
        return {"server": server, "extension": extensions[-1] or "(none)",
                "traffic": (traffic - base) * 1024 / connections,
                "idle": (idle - base) * 1024 / connections}
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--idle-wait", type=float, default=35.0)
    parser.add_argument("--servers", default=",".join(
        ["ours:none"] + [f"ours:{p}" for p in PRESETS] + ["python", "node"]))
    parser.add_argument("--port", type=int, default=29300)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"{args.connections} connections each, one 1,036-byte message echoed on each; "
          f"idle sample {args.idle_wait:.0f} s later", flush=True)
    print("| server | negotiated | RSS per connection with traffic | idle |")
    print("|---|---|---|---|")
    rows = []
    for offset, server in enumerate(args.servers.split(",")):
        row = asyncio.run(measure(server, args.port + offset, args.connections, args.idle_wait))
        rows.append(row)
        print(f"| {row['server']} | `{row['extension']}` | {row['traffic']:,.0f} B | "
              f"{row['idle']:,.0f} B |", flush=True)
    baseline = next((r for r in rows if r["server"] == "ours:none"), None)
    if baseline:
        for row in rows:
            if row is not baseline and row["server"].startswith("ours:"):
                extra = (row["idle"] - baseline["idle"]) * args.connections / 1e6
                print(f"{row['server']}: idle, {extra:+.1f} MB over {args.connections} "
                      f"uncompressed connections")


if __name__ == "__main__":
    sys.exit(main())
