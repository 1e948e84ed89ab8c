#!/usr/bin/env python3
"""An attack suite against one running wsmachine example server (standard library only).

Usage:

    python3 scripts/attack.py --server NAME --url ws://127.0.0.1:PORT/PATH --pid SERVER_PID \
        --kind echo|chat [--full] [--deflate]

Runs every case below in sequence against the server at --url, whose process is --pid, and
prints one JSON line per case on stdout: case, server, verdict (PASS, FAIL or SKIP), detail,
summary (the key figures), the server's RSS (VmRSS, KiB) and open descriptor count before and
after the case, its duration, and figures of its own. A Markdown table of the run follows the
JSON lines. The exit status is 1 if any case failed. `scripts/attack.sh` builds the examples,
starts each server and runs this against it.

--kind says what the server does with a message: `echo` sends it back; `chat` (the chat
example, WebSocket on /chat) relays each text message to every member inside a JSON envelope
and speaks first (welcome, count, its own Pings). The kind also selects the limits the
expectations are computed from (see PROFILES): the library's defaults (src/config.rs: frames
and messages up to 1 MiB, 131,072 fragments, handshake 10 s, keepalive Ping after 20 s
silent, Pong awaited 20 s) for the echo servers and axum, the room's `chat_config()`
(examples/chat/room.rs: 16 KiB, 64 fragments, 10 s, 10 s, 5 s) for the chat.

--only CASE,... runs a subset (the keepalive cases named run concurrently, as in the phase).

--source-addresses N (default 250): against a loopback server, the attack's connections come
from N addresses in turn (127.0.1.1, 127.0.1.2, ...; all of 127.0.0.0/8 reaches lo), and the
probe from the default 127.0.0.1. Since commit b0d6861 the example servers cap the connections
open from one address (256 for the echo servers, 32 for the chat), which would refuse most
of the 1,000 idle connections, or the chat's 50-at-a-time cycles, from a single address; the
cases are about deadlines and limits per connection, as from a crowd, and the probe stands
for a bystander. --source-addresses 0 sends everything from one address.

--deflate enables the deflate bomb (case 9): the client then offers permessage-deflate, and
the case is skipped if the server does not accept it. The chat accepts it whenever it is built
with the `deflate` feature, with no flag of its own. --full only enlarges connect_close_cycles
(20,000 cycles instead of 5,000); every other size is the same in both modes, and a run takes
about 60-75 s per server (the keepalive phase alone about 45-55 s).

Cases, in order (echo figures; the chat's in brackets where its limits differ):

 1. slowloris: 200 connections each send one byte of a valid upgrade request per second and
    never finish it. PASS if the server closes every one (EOF or reset) within
    handshake_timeout + 3 s = 13 s of its connect. Reports the longest time to close.
 2. idle_half_open, 3. never_reads, 4. ping_flood run concurrently, as one phase; each has its
    own verdict. The phase first opens the idle connections, then reads the server's RSS (the
    baseline of cases 3 and 4), resets its peak (VmHWM), and starts cases 3 and 4.
    - idle_half_open: 1,000 [200: the room admits 256 members] connections complete the
      handshake and go silent (never answer a Ping, never send, never close); they read only
      to notice the end. PASS if the server closes all within keepalive + pong + 5 s = 45 s
      [10 + 5 + 5 = 20 s] of their handshake.
    - never_reads: one connection sends 6 MiB as 64 KiB binary messages (text for the chat,
      whose 16 KiB limit makes the first one a 1009) and never reads. PASS if the server drops
      the connection within keepalive + pong + 5 s = 45 s [20 s] of its handshake and the
      server's RSS grows by less than 64 MiB over the baseline (the peak, shared with
      ping_flood). The keepalive Ping goes out on time whatever arrives, stuck behind the
      echoes we do not read, and only a Pong would answer it.
    - ping_flood: one connection sends Pings with 125-byte payloads as fast as the socket takes
      them, for up to keepalive + pong + 5 s, without reading. PASS if the server drops it
      within that time of the handshake, even if it keeps taking the flood (our kernel takes
      a trickle of its Pongs as it compacts its receive buffer), and its RSS grows by less
      than 64 MiB (the same shared peak).
    A drop is seen by a failing write (EPIPE, ECONNRESET), a pending SO_ERROR, the TCP state
    (CLOSE_WAIT or CLOSE), or the server's side of the connection leaving the server's
    descriptors: its /proc/net/tcp entry gone or with inode 0 (orphaned), which also catches a
    server that closed its socket while its FIN waits behind unread data. After a drop the
    receive buffer is read to find the server's Close code, if one was sent.
 5. empty_fragments: a Text frame with FIN=0 and no payload, then 1,000,000 empty Continuation
    frames with FIN=0 (in batches of 10,000), reading concurrently. PASS if a Close with 1008
    arrives (max_fragments is 131,072 [64]: more frames in one message are a 1008, §7.4.1 policy
    violation) and the server's peak RSS grows by less than 32 MiB.
 6. connect_close_cycles: 5,000 (--full: 20,000) cycles, 50 at a time: connect, handshake, send
    a Close (1000), read until the server's Close and the EOF. Then wait up to 3 s. PASS if no
    cycle failed, the descriptors are back to the baseline (within 2: the background probe may
    hold one), and the RSS is within baseline + max(4 MiB, 10 %). Reports cycles per second.
 7. random_resets: 2,000 connections, 50 at a time, each reset (SO_LINGER on with timeout 0,
    then close) at a random point: before sending anything, part-way through the request,
    right after the 101, in the middle of a frame, or after a complete message. PASS if the
    descriptors are back to the baseline (within 2) within 1 s of the last reset (polled every
    50 ms; the time it took is reported).
 8. fin_with_data: 20 connections each put the whole upgrade request, one complete masked text
    frame and the FIN in one segment (TCP_CORK on, send, shutdown(SHUT_WR), TCP_CORK off).
    PASS if the server closes every one (we read to EOF) within 3 s and the descriptors return
    to the baseline (within 2, within 1 s). Reports how many got a 101 and their echo.
 9. deflate_bomb (only with --deflate and a server that accepts permessage-deflate, else SKIP):
    (a) one frame holding 128 MiB of zeros compressed (about 128 KiB, under the 1 MiB frame
    limit) [8 MiB, about 8 KiB: the chat's frames are limited to 16 KiB, so a larger bomb
    would be refused for its compressed size, not its inflated one]; (b) the same compressed
    bytes split over 64 fragments (the chat's limit is 64 fragments: allowed). PASS
    if, for each, a Close with 1009 arrives within 5 s and the server's peak RSS grows by less
    than 100 MiB.
10. oversized_head: a 64 KiB request head (one long header, then the blank line). PASS if the
    server answers 431, or closes without a 101, within 3 s.
11. over_output_limit: a 24 MiB binary message (text for the chat) in 384 fragments of 64 KiB,
    reading concurrently. PASS if the whole echo arrives (length and CRC-32 checked) or a
    Close with 1009, within 30 s [the chat: only a 1009, as 24 MiB is over its limit]. With
    the library's 1 MiB default max_message_len the echo servers answer 1009 too; the echo
    path (24 MiB through a 1 MiB max_buffered_output) is taken only by a server started with
    --max-message-len=33554432 or more.

12. one_address: from one address of its own, 100 more idle connections than the server
    admits from one address (256 [32]). PASS if, 1 s later, the 100 over the cap are closed
    (within 2), a client from another address still completes its handshake within 2 s, and
    the descriptors return to the baseline once they are all closed.

Throughout, a background probe (a child process, so that the attack's own work in this
process does not delay it, at nice -10 where allowed, as a client on another machine would
not wait for a CPU behind the attack and the server: see ProbeProcess.NICE) opens a fresh
connection every 250 ms: connect, handshake, send a
text "probe-N", wait for it to come back (echo: the same text; chat: an envelope whose text is
"probe-N"), send a Close. A final `probe` line reports the count, median, p99 and maximum
latency (connect to reply) and how many took over 100 ms. PASS if none failed and none took
over 100 ms; the detail names the worst and the case running when they started.

Every wait has a deadline; a case that overruns its own limits fails with a detail, and a
case that does not finish within CASE_TIMEOUT seconds is cut off and fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import dataclasses
import errno
import hashlib
import itertools
import json
import os
import random
import resource
import select
import socket
import struct
import sys
import time
import zlib
from typing import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

KIB = 1 << 10
MIB = 1 << 20

# ----------------------------------------------------------------------------------------
# Limits the expectations are computed from.


@dataclasses.dataclass(frozen=True)
class Profile:
    """The server's limits and deadlines, as far as the cases depend on them."""

    kind: str
    handshake_timeout: float
    keepalive_interval: float
    pong_timeout: float
    max_frame_len: int
    max_message_len: int
    max_fragments: int
    #: How many idle connections idle_half_open opens (the chat admits 256 members).
    idle_connections: int
    #: Inflated size of the deflate bomb: over max_message_len, compressed under max_frame_len.
    bomb_len: int
    #: Connections the server admits from one address (examples/shared/admission.rs).
    per_address: int


PROFILES = {
    # src/config.rs defaults, which the echo servers and axum use: since commit 3f4f04a
    # max_frame_len and max_message_len are 1 MiB (they were 16 and 64 MiB).
    "echo": Profile("echo", 10.0, 20.0, 20.0, 1 * MIB, 1 * MIB, 131_072, 1000, 128 * MIB, 256),
    # examples/chat/room.rs chat_config(): MAX_MESSAGE_LEN 16 KiB for frames and messages,
    # 64 fragments, HANDSHAKE_DEADLINE 10 s, KEEPALIVE_INTERVAL 10 s, PONG_DEADLINE 5 s,
    # MAX_MEMBERS 256 (so 200 idle members leave room for the other cases and the probe);
    # examples/chat/main.rs LIMITS: 32 connections from one address.
    "chat": Profile("chat", 10.0, 10.0, 5.0, 16 * KIB, 16 * KIB, 64, 200, 8 * MIB, 32),
}

#: A case that runs longer than this is cut off (the keepalive phase takes about 55 s).
CASE_TIMEOUT = 150.0
#: Connections opened at once by the cases that open many.
CONCURRENCY = 50
#: Descriptors the background probe may hold open on the server at any moment.
FD_TOLERANCE = 2

# ----------------------------------------------------------------------------------------
# The WebSocket protocol, client side (RFC 6455, RFC 7692).

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
#: What a sync flush ends with, and permessage-deflate strips (RFC 7692 §7.2.1).
DEFLATE_TAIL = b"\x00\x00\xff\xff"


def new_key() -> str:
    """A Sec-WebSocket-Key: 16 random bytes in base64."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_value(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer `key` with (§4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(host: str, path: str, key: str, *, deflate: bool = False,
                    padding: int = 0) -> bytes:
    """A valid upgrade request; `padding` adds an X-Padding header with that many bytes."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate")
    if padding:
        lines.append("X-Padding: " + "a" * padding)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def mask_bytes(data: bytes, key: bytes) -> bytes:
    """`data` XORed with the 4-byte `key` repeated (§5.3), as one big-integer operation."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little")


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True,
                 rsv1: bool = False) -> bytes:
    """A client frame, masked with a fresh random key."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    key = os.urandom(4)
    return header + key + mask_bytes(payload, key)


def close_frame(code: int, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode())


def close_code(payload: bytes) -> int:
    """The code of a Close payload; 1005 (none given) for an empty one (§7.1.5)."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


def fragment_frames(opcode: int, pieces: list[bytes], *, rsv1: bool = False) -> list[bytes]:
    """One message as frames: the first carries the opcode (and RSV1), the rest continue it."""
    last = len(pieces) - 1
    return [
        encode_frame(opcode if i == 0 else OP_CONTINUATION, piece, fin=(i == last),
                     rsv1=(rsv1 and i == 0))
        for i, piece in enumerate(pieces)
    ]


def split_evenly(data: bytes, parts: int) -> list[bytes]:
    size = -(-len(data) // parts)
    return [data[i * size:(i + 1) * size] for i in range(parts)]


def deflate_zeros(length: int, window_bits: int) -> bytes:
    """`length` zero bytes compressed as one permessage-deflate message (raw DEFLATE, sync
    flush, its 00 00 ff ff tail stripped), fed in 1 MiB blocks."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -max(window_bits, 9))
    block = bytes(MIB)
    out = [compressor.compress(block) for _ in range(length // MIB)]
    out.append(compressor.compress(bytes(length % MIB)))
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(out)
    assert data.endswith(DEFLATE_TAIL)
    return data[:-len(DEFLATE_TAIL)]


@dataclasses.dataclass
class Frame:
    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes


@dataclasses.dataclass
class Message:
    """A data message (assembled and inflated) or a control frame."""

    opcode: int
    payload: bytes


class FrameReader:
    """Decodes the server's frames from bytes fed in pieces (7-, 16- and 64-bit lengths)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_frame(self) -> Frame | None:
        """The next whole frame, or None until more bytes are fed."""
        buf, pos = self._buffer, self._pos
        available = len(buf) - pos
        if available < 2:
            return None
        b0, b1 = buf[pos], buf[pos + 1]
        length, header = b1 & 0x7F, 2
        if length == 126:
            if available < 4:
                return None
            length, header = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
        elif length == 127:
            if available < 10:
                return None
            length, header = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
        masked = bool(b1 & 0x80)  # a server must not mask (§5.1); decoded anyway
        key_at = pos + header
        if masked:
            header += 4
        if available < header + length:
            return None
        payload = bytes(buf[pos + header:pos + header + length])
        if masked:
            payload = mask_bytes(payload, bytes(buf[key_at:key_at + 4]))
        self._pos = pos + header + length
        self._compact()
        return Frame(bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload)

    def _compact(self) -> None:
        if self._pos == len(self._buffer) or self._pos > MIB:
            del self._buffer[:self._pos]
            self._pos = 0


# ----------------------------------------------------------------------------------------
# Sockets.


@dataclasses.dataclass(frozen=True)
class Target:
    """Where the server listens, and what it is."""

    name: str
    host: str
    port: int
    path: str
    kind: str
    deflate: bool
    #: Local addresses the attack's connections come from, in turn (empty: the default).
    sources: tuple[str, ...] = ()

    @property
    def host_header(self) -> str:
        return f"{self.host}:{self.port}"

    @staticmethod
    def from_args(args: argparse.Namespace) -> "Target":
        url = urlsplit(args.url)
        if url.scheme != "ws" or not url.port:
            raise SystemExit(f"--url must be ws://HOST:PORT/PATH, not {args.url}")
        host = socket.gethostbyname(url.hostname or "127.0.0.1")
        sources = source_addresses(args.source_addresses) if host.startswith("127.") else ()
        return Target(args.server, host, url.port, url.path or "/", args.kind, args.deflate,
                      sources)


def source_addresses(count: int) -> tuple[str, ...]:
    """`count` loopback addresses from 127.0.1.1 on (all of 127.0.0.0/8 reaches lo), none of
    them 127.0.0.1, which the probe keeps for itself."""
    return tuple(f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count))


#: Which of Target.sources the next connection binds to.
_next_source = itertools.count()


def new_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def bind_source(sock: socket.socket, address: str) -> None:
    """Binds `sock` to the source `address`, its port chosen at connect time
    (IP_BIND_ADDRESS_NO_PORT): a port chosen at bind time must be free of every other socket on
    the address, and after 20,000 connect/close cycles (as many TIME_WAIT sockets) each such
    bind searched the port range for about 25 ms."""
    no_port = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", None)
    if no_port is not None:
        sock.setsockopt(socket.IPPROTO_IP, no_port, 1)
    sock.bind((address, 0))


async def connect(target: Target, timeout: float = 5.0) -> socket.socket:
    """A connected non-blocking socket, from the next of the target's source addresses."""
    sock = new_socket()
    try:
        if target.sources:
            bind_source(sock, target.sources[next(_next_source) % len(target.sources)])
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, (target.host, target.port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


def reset_socket(sock: socket.socket) -> None:
    """Closes with a reset: SO_LINGER on with a timeout of 0."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def quietly_close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


async def wait_writable(sock: socket.socket, timeout: float) -> None:
    """Waits until `sock` can take more bytes, or `timeout` seconds."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_writer(sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        pass
    finally:
        loop.remove_writer(sock.fileno())


async def recv_some(sock: socket.socket, timeout: float, size: int = 256 * KIB) -> bytes:
    """One read (b"" at the end); TimeoutError after `timeout` seconds."""
    if timeout <= 0:
        raise TimeoutError
    return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, size), timeout)


async def send_all(sock: socket.socket, data: bytes, timeout: float) -> None:
    await asyncio.wait_for(asyncio.get_running_loop().sock_sendall(sock, data), timeout)


@dataclasses.dataclass
class ReadToEnd:
    """What read_to_end saw: the bytes, and how and when the stream ended."""

    data: bytes
    ended_after: float | None  # seconds from the start; None: still open at the deadline
    how: str = ""


async def read_to_end(sock: socket.socket, timeout: float) -> ReadToEnd:
    """Reads until EOF, a reset, or `timeout` seconds."""
    start = time.monotonic()
    chunks: list[bytes] = []
    while True:
        remaining = start + timeout - time.monotonic()
        try:
            data = await recv_some(sock, remaining)
        except TimeoutError:
            return ReadToEnd(b"".join(chunks), None, "still open")
        except OSError as error:
            return ReadToEnd(b"".join(chunks), time.monotonic() - start, errno_name(error))
        if not data:
            return ReadToEnd(b"".join(chunks), time.monotonic() - start, "EOF")
        chunks.append(data)


def errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, type(error).__name__)


TCP_STATE_CLOSE, TCP_STATE_CLOSE_WAIT = 7, 8


def tcp_state(sock: socket.socket) -> int:
    """The socket's TCP state (tcpi_state, the first byte of TCP_INFO)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def held_client_ports(server_port: int) -> set[int]:
    """The client ports of the connections to `server_port` whose server side a process (the
    server) still holds: /proc/net/tcp entries with a non-zero inode. An orphaned socket
    (closed by the server, its last bytes or FIN still queued) has inode 0. The kernel hands
    the table out a page at a time and resumes each page at a position, so entries that went
    meanwhile (thousands of TIME_WAIT sockets expiring after a connect/close run) can make a
    read skip a live one: a port missing from one read is looked for in two more."""
    held: set[int] = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as table:
                next(table, None)
                for line in table:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == server_port and int(fields[9]):
                        held.add(int(fields[2].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return held


def server_holds_connection(server_port: int, client_port: int,
                            held: set[int] | None = None) -> bool:
    """Whether the server still holds its side of the connection from `client_port`, from
    `held` (one read of the table, shared by many checks) or a fresh read; a port missing is
    looked for in two more reads before the answer is no (see held_client_ports)."""
    if client_port in (held if held is not None else held_client_ports(server_port)):
        return True
    return any(client_port in held_client_ports(server_port) for _ in range(2))


def drop_evidence(sock: socket.socket, server_port: int,
                  held: set[int] | None = None) -> str | None:
    """How we can tell the server dropped this connection, or None if it has not; `held` is
    a read of the server's connections shared by many calls (see server_holds_connection)."""
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        return f"SO_ERROR {errno.errorcode.get(error, error)}"
    state = tcp_state(sock)
    if state == TCP_STATE_CLOSE_WAIT:
        return "FIN from the server"
    if state == TCP_STATE_CLOSE:
        return "reset by the server"
    if not server_holds_connection(server_port, sock.getsockname()[1], held):
        return "the server closed its socket"
    return None


# ----------------------------------------------------------------------------------------
# A minimal WebSocket client session.


class HandshakeError(Exception):
    pass


class Session:
    """An open client connection: frames out (masked), frames and messages in."""

    def __init__(self, sock: socket.socket, reader: FrameReader, deflate: bool,
                 client_window_bits: int) -> None:
        self.sock = sock
        self.reader = reader
        self.deflate = deflate
        self.client_window_bits = client_window_bits
        self._inflater = zlib.decompressobj(-15)
        self._parts: list[bytes] = []
        self._first: Frame | None = None

    async def send(self, data: bytes, timeout: float = 10.0) -> None:
        await send_all(self.sock, data, timeout)

    async def read_frame(self, timeout: float) -> Frame | None:
        """The next frame, or None at the end of the stream; TimeoutError at the deadline,
        OSError on a reset."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.reader.next_frame()
            if frame is not None:
                return frame
            data = await recv_some(self.sock, deadline - time.monotonic())
            if not data:
                return None
            self.reader.feed(data)

    async def read_message(self, timeout: float) -> Message | None:
        """The next data message, assembled and inflated, or control frame; None at the end."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.read_frame(deadline - time.monotonic())
            if frame is None:
                return None
            if frame.opcode >= OP_CLOSE:
                return Message(frame.opcode, frame.payload)
            if self._first is None:
                self._first = frame
            self._parts.append(frame.payload)
            if frame.fin:
                first, payload = self._first, b"".join(self._parts)
                self._first, self._parts = None, []
                if first.rsv1:
                    payload = self._inflater.decompress(payload + DEFLATE_TAIL)
                return Message(first.opcode, payload)

    async def read_until_close(self, timeout: float) -> int | None:
        """Reads until the server's Close and returns its code; None if the stream ended
        without one. TimeoutError at the deadline, OSError on a reset."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.read_message(deadline - time.monotonic())
            if message is None:
                return None
            if message.opcode == OP_CLOSE:
                return close_code(message.payload)

    def abort(self) -> None:
        quietly_close(self.sock)

    def reset(self) -> None:
        reset_socket(self.sock)


async def read_response_head(sock: socket.socket, timeout: float) -> tuple[int, dict, bytes]:
    """The status, headers (lower-case names) and the bytes after the head."""
    deadline = time.monotonic() + timeout
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = await recv_some(sock, deadline - time.monotonic(), 16 * KIB)
        if not data:
            raise HandshakeError(f"closed before the response head ({len(buffer)} bytes)")
        buffer += data
        if len(buffer) > 64 * KIB:
            raise HandshakeError("response head over 64 KiB")
    head, rest = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise HandshakeError(f"bad status line {lines[0]!r}") from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def client_window_bits(extensions: str) -> int:
    """The client_max_window_bits the server's permessage-deflate answer sets (15 if none)."""
    for param in extensions.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip() == "client_max_window_bits" and value.strip().strip('"').isdigit():
            return int(value.strip().strip('"'))
    return 15


async def open_session(target: Target, *, deflate: bool = False,
                       timeout: float = 10.0) -> Session:
    """Connects and completes the opening handshake (101 and Sec-WebSocket-Accept checked)."""
    deadline = time.monotonic() + timeout
    sock = await connect(target, timeout)
    try:
        key = new_key()
        request = upgrade_request(target.host_header, target.path, key, deflate=deflate)
        await send_all(sock, request, deadline - time.monotonic())
        status, headers, rest = await read_response_head(sock, deadline - time.monotonic())
        if status != 101:
            raise HandshakeError(f"status {status}")
        if headers.get("sec-websocket-accept") != accept_value(key):
            raise HandshakeError("wrong Sec-WebSocket-Accept")
        extensions = headers.get("sec-websocket-extensions", "")
        negotiated = extensions.strip().lower().startswith("permessage-deflate")
        reader = FrameReader()
        reader.feed(rest)
        return Session(sock, reader, negotiated, client_window_bits(extensions))
    except BaseException:
        quietly_close(sock)
        raise


def describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.errno:
        return errno_name(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# ----------------------------------------------------------------------------------------
# The server process, seen through /proc.


@dataclasses.dataclass(frozen=True)
class Snapshot:
    rss_kib: int | None
    fds: int | None


class ServerProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _status_kib(self, field: str) -> int | None:
        try:
            with open(f"/proc/{self.pid}/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def alive(self) -> bool:
        return os.path.exists(f"/proc/{self.pid}/status")

    def rss_kib(self) -> int | None:
        return self._status_kib("VmRSS")

    def fd_count(self) -> int | None:
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None

    def snapshot(self) -> Snapshot:
        return Snapshot(self.rss_kib(), self.fd_count())

    def reset_peak(self) -> bool:
        """Resets VmHWM to the current RSS (clear_refs 5); False where that is not allowed."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            return True
        except OSError:
            return False

    def peak_kib(self) -> int | None:
        return self._status_kib("VmHWM")

    async def fds_settle(self, at_most: int, timeout: float,
                         interval: float = 0.05) -> tuple[float | None, int | None]:
        """Polls until the descriptor count is at most `at_most`: the seconds it took (None if
        not within `timeout`) and the last count."""
        start = time.monotonic()
        while True:
            fds = self.fd_count()
            elapsed = time.monotonic() - start
            if fds is not None and fds <= at_most:
                return elapsed, fds
            if elapsed >= timeout:
                return None, fds
            await asyncio.sleep(interval)


class PeakWatch:
    """The server's peak RSS from now on: VmHWM after resetting it, or, where that is not
    allowed, VmRSS sampled every 50 ms."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.baseline = server.rss_kib() or 0
        self.exact = server.reset_peak()
        self.sampled = self.baseline
        self._task = None if self.exact else asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.sampled = max(self.sampled, self.server.rss_kib() or 0)
            await asyncio.sleep(0.05)

    def peak_kib(self) -> int:
        if self.exact:
            return max(self.server.peak_kib() or 0, self.baseline)
        return max(self.sampled, self.server.rss_kib() or 0)

    def growth_kib(self) -> int:
        return self.peak_kib() - self.baseline

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.1f}"


# ----------------------------------------------------------------------------------------
# The background probe, in a child process.


class ProbeProcess:
    """Opens a fresh connection every 250 ms from a child process (forked before this
    process starts its event loop), and reports the probes when told to stop. The parent
    names the case running on the command pipe, so each probe says what it overlapped."""

    INTERVAL = 0.25
    TIMEOUT = 5.0
    #: The probe stands for a client on another machine. Here it shares two CPUs with the
    #: attack (a Python process handling a thousand connections at once) and the server
    #: (echo_std: a thread per connection), and a Python process waiting its turn behind a
    #: thousand runnable threads measured its own wait: an echo_std run logged a probe whose
    #: server side, accept to echo, took under 20 ms while the probe saw 93 ms, and one whose
    #: server waited 68 ms for the probe's message after its 101. So the probe runs at a
    #: higher priority where allowed (root); the server's side of every probe is measured
    #: as before. The outcome says which priority it had.
    NICE = -10

    def __init__(self, pid: int, commands: int, results: int) -> None:
        self.pid, self._commands, self._results = pid, commands, results

    @staticmethod
    def start(target: Target) -> "ProbeProcess":
        command_r, command_w = os.pipe()
        result_r, result_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(command_w)
            os.close(result_r)
            ProbeProcess._child(target, command_r, result_w)
        os.close(command_r)
        os.close(result_w)
        return ProbeProcess(pid, command_w, result_r)

    @staticmethod
    def _child(target: Target, commands: int, results: int) -> None:
        status = 0
        target = dataclasses.replace(target, sources=())  # the probe comes from the default
        try:
            os.nice(ProbeProcess.NICE)
        except OSError:
            pass  # not allowed (not root): the probe runs beside the others, as before
        try:
            probes = asyncio.run(probe_loop(target, commands))
            payload = json.dumps(probes).encode()
        except BaseException as error:  # reported, never raised in the child
            payload = json.dumps([{"n": 0, "case": "probe", "ms": 0.0,
                                   "error": f"probe process: {describe(error)}"}]).encode()
            status = 1
        view = memoryview(payload)
        while view:
            view = view[os.write(results, view):]
        os._exit(status)

    def tell_case(self, name: str) -> None:
        try:
            os.write(self._commands, name.encode() + b"\n")
        except OSError:
            pass

    def finish(self, timeout: float = 20.0) -> list[dict]:
        """Stops the probe and returns one dict per probe (n, case, ms, error); notes the
        priority it ran at in `self.nice`."""
        try:
            self.nice: int | None = os.getpriority(os.PRIO_PROCESS, self.pid)
        except OSError:
            self.nice = None
        os.close(self._commands)
        deadline = time.monotonic() + timeout
        chunks = []
        while True:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self._results], [], [], max(remaining, 0))
            if not readable:
                os.kill(self.pid, 9)
                chunks = [json.dumps([{"n": 0, "case": "probe", "ms": 0.0,
                                       "error": "probe process did not report"}]).encode()]
                break
            data = os.read(self._results, 1 << 16)
            if not data:
                break
            chunks.append(data)
        os.close(self._results)
        os.waitpid(self.pid, 0)
        try:
            return json.loads(b"".join(chunks) or b"[]")
        except ValueError:
            return [{"n": 0, "case": "probe", "ms": 0.0, "error": "unreadable probe report"}]


async def probe_loop(target: Target, commands: int) -> list[dict]:
    """Starts a probe every INTERVAL until the command pipe closes; the lines it carries
    name the case running."""
    loop = asyncio.get_running_loop()
    os.set_blocking(commands, False)
    state = {"case": "start", "stop": False}

    def on_command() -> None:
        try:
            data = os.read(commands, 4096)
        except BlockingIOError:
            return
        if not data:
            state["stop"] = True
            loop.remove_reader(commands)
            return
        names = data.decode(errors="replace").split()
        if names:
            state["case"] = names[-1]

    loop.add_reader(commands, on_command)
    tasks = []
    next_at = time.monotonic()
    while not state["stop"]:
        tasks.append(asyncio.create_task(probe_once(target, len(tasks) + 1, state["case"])))
        next_at = max(next_at + ProbeProcess.INTERVAL, time.monotonic())
        await asyncio.sleep(next_at - time.monotonic())
    return list(await asyncio.gather(*tasks))


def is_probe_reply(kind: str, text: str, payload: bytes) -> bool:
    """Echo: the text itself. Chat: an envelope whose text is ours."""
    if kind == "echo":
        return payload == text.encode()
    try:
        envelope = json.loads(payload)
    except ValueError:
        return False
    return isinstance(envelope, dict) and envelope.get("text") == text


async def probe_once(target: Target, n: int, case: str) -> dict:
    """Connect, handshake, send "probe-N", wait for it back, Close; the latency is from
    before the connect to the reply."""
    text = f"probe-{n}"
    start = time.monotonic()
    deadline = start + ProbeProcess.TIMEOUT
    record = {"n": n, "case": case, "ms": None, "error": None}
    session = None
    try:
        session = await open_session(target, timeout=ProbeProcess.TIMEOUT)
        await session.send(encode_frame(OP_TEXT, text.encode()), deadline - time.monotonic())
        while True:
            message = await session.read_message(deadline - time.monotonic())
            if message is None:
                raise ConnectionError("closed before the reply")
            if message.opcode == OP_CLOSE:
                raise ConnectionError(f"Close {close_code(message.payload)} before the reply")
            if message.opcode == OP_TEXT and is_probe_reply(target.kind, text, message.payload):
                break
            if target.kind == "echo" and message.opcode in (OP_TEXT, OP_BINARY):
                raise ConnectionError("wrong echo")
        record["ms"] = (time.monotonic() - start) * 1000
        await session.send(close_frame(1000), 1.0)
        await session.read_until_close(1.0)
    except Exception as error:  # a failed or late probe is a result, not a crash
        if record["ms"] is None:
            record["ms"] = (time.monotonic() - start) * 1000
            record["error"] = describe(error)
    finally:
        if session is not None:
            session.abort()
    return record


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def probe_outcome(probes: list[dict], nice: int | None = None,
                  slow_ms: float = 100.0) -> "Outcome":
    failed = [p for p in probes if p["error"]]
    latencies = sorted(p["ms"] for p in probes if not p["error"])
    slow = sorted((p for p in probes if not p["error"] and p["ms"] > slow_ms),
                  key=lambda p: -p["ms"])
    median, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    worst = max(latencies, default=0.0)
    figures = {"probes": len(probes), "failed": len(failed), "median_ms": round(median, 2),
               "p99_ms": round(p99, 2), "max_ms": round(worst, 2), "over_100ms": len(slow),
               "nice": nice}
    summary = (f"{len(probes)} probes, median {median:.1f} ms, p99 {p99:.1f} ms, "
               f"max {worst:.1f} ms, {len(slow)} over {slow_ms:.0f} ms, {len(failed)} failed"
               f"{'' if nice is None else f' (nice {nice})'}")
    notes = []
    if failed:
        notes.append("failed: " + "; ".join(
            f"probe-{p['n']} during {p['case']}: {p['error']}" for p in failed[:5]))
    if slow:
        notes.append("slowest: " + "; ".join(
            f"probe-{p['n']} during {p['case']}: {p['ms']:.0f} ms" for p in slow[:5]))
        by_case: dict[str, int] = {}
        for p in slow:
            by_case[p["case"]] = by_case.get(p["case"], 0) + 1
        notes.append(f"over {slow_ms:.0f} ms by case: {by_case}")
    ok = not failed and not slow and bool(probes)
    answered = [p for p in probes if not p["error"]]
    slowest = max(answered, key=lambda p: p["ms"], default=None)
    detail = " | ".join(notes) if notes else "every probe answered within 100 ms"
    if slowest is not None and not slow:
        detail += f"; the slowest, {slowest['ms']:.1f} ms, during {slowest['case']}"
    return Outcome("PASS" if ok else "FAIL", detail, summary, figures)


# ----------------------------------------------------------------------------------------
# Cases: results and the runner.


@dataclasses.dataclass
class Outcome:
    verdict: str
    detail: str
    summary: str
    figures: dict = dataclasses.field(default_factory=dict)


def verdict(ok: bool, detail: str, summary: str, **figures) -> Outcome:
    return Outcome("PASS" if ok else "FAIL", detail, summary, figures)


def skip(detail: str) -> Outcome:
    return Outcome("SKIP", detail, "skipped")


class Attack:
    """What every case needs: the target, its limits, the server process, the sizes."""

    def __init__(self, target: Target, server: ServerProcess, full: bool,
                 probe: ProbeProcess | None, only: set[str] | None = None) -> None:
        self.target = target
        self.profile = PROFILES[target.kind]
        self.server = server
        self.full = full
        self.probe = probe
        self.only = only
        self.records: list[dict] = []

    def selected(self, name: str) -> bool:
        return self.only is None or name in self.only

    @property
    def is_chat(self) -> bool:
        return self.target.kind == "chat"

    @property
    def data_opcode(self) -> int:
        """The chat takes only text (binary is a 1003); the echo servers get binary."""
        return OP_TEXT if self.is_chat else OP_BINARY

    def announce(self, name: str) -> None:
        if self.probe is not None:
            self.probe.tell_case(name)

    def record(self, name: str, outcome: Outcome, before: Snapshot, after: Snapshot,
               seconds: float) -> dict:
        record = {
            "case": name,
            "server": self.target.name,
            "verdict": outcome.verdict,
            "detail": outcome.detail,
            "summary": outcome.summary,
            "rss_kib_before": before.rss_kib,
            "rss_kib_after": after.rss_kib,
            "fds_before": before.fds,
            "fds_after": after.fds,
            "seconds": round(seconds, 2),
        }
        for key, value in outcome.figures.items():
            record.setdefault(key, value)
        return record

    def emit(self, record: dict) -> None:
        self.records.append(record)
        print(json.dumps(record), flush=True)


async def measured(attack: Attack, name: str, case: Callable[[], Awaitable[Outcome]],
                   announce: bool = True) -> dict:
    """Runs one case with a time limit, between two snapshots of the server; `announce`
    tells the probe its name (a phase names itself instead)."""
    if announce:
        attack.announce(name)
    before = attack.server.snapshot()
    start = time.monotonic()
    if not attack.server.alive():
        outcome = verdict(False, "the server is not running", "server gone")
    else:
        task = asyncio.create_task(case())
        done, _ = await asyncio.wait({task}, timeout=CASE_TIMEOUT)
        if not done:
            task.cancel()
            outcome = verdict(False, f"the case did not finish within {CASE_TIMEOUT:.0f} s",
                              "cut off")
        elif task.exception() is not None:
            outcome = verdict(False, f"the case broke off: {describe(task.exception())}",
                              "error")
        else:
            outcome = task.result()
        if not attack.server.alive():
            outcome = verdict(False, f"the server exited during the case ({outcome.detail})",
                              "server died")
    return attack.record(name, outcome, before, attack.server.snapshot(),
                         time.monotonic() - start)


async def run_pool(count: int, concurrency: int, job: Callable[[int], Awaitable[object]]
                   ) -> list[object]:
    """Runs job(0) ... job(count - 1), `concurrency` at a time; exceptions are returned."""
    results: list[object] = [None] * count
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            try:
                results[index] = await job(index)
            except Exception as error:
                results[index] = error

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return results


def first_errors(errors: list[BaseException], limit: int = 3) -> str:
    counts: dict[str, int] = {}
    for error in errors:
        counts[describe(error)] = counts.get(describe(error), 0) + 1
    return ", ".join(f"{what} ×{n}" for what, n in list(counts.items())[:limit])


# ----------------------------------------------------------------------------------------
# 1. slowloris


async def trickle_until_closed(sock: socket.socket, request: bytes,
                               watch: float) -> float | None:
    """Sends one byte of `request` a second (never the last) until the server closes the
    connection: the seconds that took, or None if it is still open after `watch`."""
    start = time.monotonic()
    sent, next_send = 0, start
    try:
        while True:
            now = time.monotonic()
            if now - start >= watch:
                return None
            if now >= next_send and sent < len(request) - 1:
                try:
                    sent += sock.send(request[sent:sent + 1])
                except BlockingIOError:
                    pass
                except OSError:
                    return time.monotonic() - start
                next_send += 1.0
            try:
                data = await recv_some(sock, min(next_send, start + watch) - time.monotonic())
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - start
            if not data:
                return time.monotonic() - start
    finally:
        quietly_close(sock)


async def case_slowloris(attack: Attack) -> Outcome:
    count = 200
    limit = attack.profile.handshake_timeout + 3.0
    watch = limit + 2.0
    request = upgrade_request(attack.target.host_header, attack.target.path, new_key())
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> float | None:
        async with gate:
            sock = await connect(attack.target)
        return await trickle_until_closed(sock, request, watch)

    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    times = [r for r in results if isinstance(r, float)]
    still_open = sum(1 for r in results if r is None)
    late = [t for t in times if t > limit]
    longest = max(times, default=0.0)
    problems = []
    if still_open:
        problems.append(f"{still_open} still open {watch:.0f} s after their connect")
    if late:
        problems.append(f"{len(late)} closed after the {limit:.0f} s limit")
    if errors:
        problems.append(f"{len(errors)} could not connect ({first_errors(errors)})")
    detail = "; ".join(problems) or f"all {count} closed by the server within {longest:.1f} s"
    longest_text = f"max {longest:.1f} s" if times else "none closed"
    return verdict(not problems, detail,
                   f"{count} conns, {len(times)} closed, {longest_text} (limit "
                   f"{limit:.0f} s), {still_open} open",
                   connections=count, closed=len(times), still_open=still_open,
                   max_close_s=round(longest, 2), limit_s=limit)


# ----------------------------------------------------------------------------------------
# 2-4. The keepalive phase: idle_half_open, never_reads, ping_flood.


class KeepalivePhase:
    """Shared by the three concurrent cases: once the idle connections are open, the RSS
    baseline and peak of never_reads and ping_flood."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.peak: PeakWatch | None = None

    def mark_opened(self, server: ServerProcess) -> None:
        if not self.opened.is_set():
            self.peak = PeakWatch(server)
            self.opened.set()


async def watch_until_closed(session: Session, deadline: float) -> tuple[float | None, int | None]:
    """Reads (never answering) until the server ends the connection: when that happened
    (monotonic, None if not by `deadline`) and the code of its Close, if one came."""
    code = None
    try:
        while True:
            frame = await session.read_frame(deadline - time.monotonic())
            if frame is None:
                return time.monotonic(), code
            if frame.opcode == OP_CLOSE:
                code = close_code(frame.payload)
    except TimeoutError:
        return None, code
    except OSError:
        return time.monotonic(), code
    finally:
        session.abort()


def keepalive_bound(profile: Profile) -> float:
    """How long after its handshake a connection that never answers the keepalive Ping may
    stay: the Ping, its Pong deadline, and 5 s for the server to notice and close."""
    return profile.keepalive_interval + profile.pong_timeout + 5.0


async def case_idle_half_open(attack: Attack, phase: KeepalivePhase) -> Outcome:
    count = attack.profile.idle_connections
    limit = keepalive_bound(attack.profile)
    grace = 5.0

    async def open_one(_: int) -> tuple[Session, float]:
        session = await open_session(attack.target)
        return session, time.monotonic()

    try:
        opened = await run_pool(count, CONCURRENCY, open_one)
    finally:
        phase.mark_opened(attack.server)
    errors = [r for r in opened if isinstance(r, BaseException)]
    sessions = [r for r in opened if isinstance(r, tuple)]
    watched = await asyncio.gather(*(
        watch_until_closed(session, opened_at + limit + grace) for session, opened_at in sessions))
    after = [closed_at - opened_at
             for (closed_at, _), (_, opened_at) in zip(watched, sessions) if closed_at]
    still_open = sum(1 for closed_at, _ in watched if closed_at is None)
    late = [t for t in after if t > limit]
    codes: dict[str, int] = {}
    for _, code in watched:
        codes[str(code)] = codes.get(str(code), 0) + 1
    longest = max(after, default=0.0)
    problems = []
    if still_open:
        problems.append(f"{still_open} still open {limit + grace:.0f} s after the handshake")
    if late:
        problems.append(f"{len(late)} closed after the {limit:.0f} s limit")
    if errors:
        problems.append(f"{len(errors)} handshakes failed ({first_errors(errors)})")
    detail = "; ".join(problems) or (
        f"all {len(sessions)} closed within {longest:.1f} s of their handshake; Close codes "
        f"seen {codes}")
    return verdict(not problems, detail,
                   f"{len(sessions)} conns, max close {longest:.1f} s after handshake (limit "
                   f"{limit:.0f} s), codes {codes}",
                   connections=count, handshakes_failed=len(errors), still_open=still_open,
                   max_close_s=round(longest, 2), min_close_s=round(min(after, default=0.0), 2),
                   limit_s=limit, close_codes=codes)


#: How long a flood case watches past its limit, to report when a late drop came.
FLOOD_GRACE = 5.0


@dataclasses.dataclass
class Flood:
    """How a flood went: bytes written, when the last write took bytes, when and how the
    drop was seen (monotonic times)."""

    started: float
    sent: int = 0
    last_write: float = 0.0
    dropped_at: float | None = None
    how: str = ""


async def flood_until_dropped(session: Session, server_port: int,
                              next_chunk: Callable[[float], bytes | None],
                              deadline_of: Callable[[Flood], float]) -> Flood:
    """Writes what `next_chunk(now)` gives (None: nothing more now) and never reads, until the
    server drops the connection or `deadline_of(flood)` passes. Checks for a drop every 250 ms
    and on every failing write."""
    sock = session.sock
    flood = Flood(started=time.monotonic())
    flood.last_write = flood.started
    pending = memoryview(b"")
    next_check = 0.0
    while True:
        now = time.monotonic()
        if now >= deadline_of(flood):
            return flood
        if now >= next_check:
            how = drop_evidence(sock, server_port)
            if how:
                flood.dropped_at, flood.how = now, how
                return flood
            next_check = now + 0.25
        if not pending:
            chunk = next_chunk(now)
            if chunk is None:
                await asyncio.sleep(0.25)
                continue
            pending = memoryview(chunk)
        try:
            written = sock.send(pending[:256 * KIB])
        except BlockingIOError:
            await wait_writable(sock, 0.25)
            continue
        except OSError as error:
            flood.dropped_at, flood.how = time.monotonic(), f"write failed: {errno_name(error)}"
            return flood
        pending = pending[written:]
        flood.sent += written
        flood.last_write = time.monotonic()
        await asyncio.sleep(0)  # let the other cases run


async def drain_close_code(session: Session, timeout: float = 5.0) -> int | None:
    """After a drop: reads what is left in the receive buffer for the server's Close."""
    code = None
    try:
        while True:
            frame = await session.read_frame(timeout)
            if frame is None:
                return code
            if frame.opcode == OP_CLOSE:
                code = close_code(frame.payload)
    except (TimeoutError, OSError):
        return code
    finally:
        session.abort()


def growth_check(phase: KeepalivePhase, limit_kib: int) -> tuple[int, str | None]:
    growth = phase.peak.growth_kib() if phase.peak else 0
    if growth > limit_kib:
        return growth, (f"the server's RSS grew {mib(growth)} MiB over the baseline "
                        f"(limit {mib(limit_kib)} MiB)")
    return growth, None


def drop_within(flood: Flood, limit: float) -> tuple[float | None, str | None]:
    """Seconds from the handshake to the drop (None: never), and the problem if it was not
    within `limit`."""
    if flood.dropped_at is None:
        return None, f"still open {limit + FLOOD_GRACE:.0f} s after the handshake"
    dropped = flood.dropped_at - flood.started
    if dropped > limit:
        return dropped, f"dropped {dropped:.1f} s after the handshake (limit {limit:.0f} s)"
    return dropped, None


async def case_never_reads(attack: Attack, phase: KeepalivePhase) -> Outcome:
    limit = keepalive_bound(attack.profile)
    message_len, total = 64 * KIB, 6 * MIB
    session = await open_session(attack.target)
    payload = b"x" * message_len if attack.is_chat else os.urandom(message_len)
    data = b"".join(encode_frame(attack.data_opcode, payload) for _ in range(total // message_len))
    given = False

    def next_chunk(_: float) -> bytes | None:
        nonlocal given
        if given:
            return None
        given = True
        return data

    flood = await flood_until_dropped(session, attack.target.port, next_chunk,
                                      lambda f: f.started + limit + FLOOD_GRACE)
    code = await drain_close_code(session)
    growth, memory_problem = growth_check(phase, 64 * 1024)
    dropped, drop_problem = drop_within(flood, limit)
    problems = [p for p in (memory_problem, drop_problem) if p]
    if attack.is_chat and code not in (None, 1009):
        problems.append(f"the chat closed with {code}, not 1009")
    when = "not" if dropped is None else f"at {dropped:.1f} s"
    detail = "; ".join(problems) or (
        f"dropped {when} ({flood.how}); {mib(flood.sent // KIB)} MiB written, the last at "
        f"{flood.last_write - flood.started:.1f} s; Close code in the unread stream: {code}; "
        f"RSS growth {mib(growth)} MiB")
    return verdict(not problems, detail,
                   f"{mib(flood.sent // KIB)} MiB sent, dropped {when}, close {code}, "
                   f"+{mib(growth)} MiB",
                   bytes_sent=flood.sent, dropped_after_s=dropped and round(dropped, 2),
                   last_write_s=round(flood.last_write - flood.started, 2),
                   drop_seen_by=flood.how, close_code=code, rss_growth_kib=growth)


async def case_ping_flood(attack: Attack, phase: KeepalivePhase) -> Outcome:
    # The keepalive Ping goes out on time whatever the flood, and the flood never answers
    # it: dropped at its Pong deadline, even if the server keeps taking the flood (which it
    # may, while the kernel trickles its Pongs into our receive buffer).
    limit, ping_len = keepalive_bound(attack.profile), 125
    session = await open_session(attack.target)
    batch = b"".join(encode_frame(OP_PING, os.urandom(ping_len)) for _ in range(1024))
    frame_len = len(batch) // 1024
    started = time.monotonic()

    def next_chunk(now: float) -> bytes | None:
        return batch if now < started + limit else None

    flood = await flood_until_dropped(session, attack.target.port, next_chunk,
                                      lambda f: f.started + limit + FLOOD_GRACE)
    code = await drain_close_code(session)
    growth, memory_problem = growth_check(phase, 64 * 1024)
    dropped, drop_problem = drop_within(flood, limit)
    problems = [p for p in (memory_problem, drop_problem) if p]
    pings = flood.sent // frame_len
    when = "not" if dropped is None else f"at {dropped:.1f} s"
    detail = "; ".join(problems) or (
        f"dropped {when} ({flood.how}), {pings} Pings sent, the last write at "
        f"{flood.last_write - flood.started:.1f} s; Close code in the unread stream: {code}; "
        f"RSS growth {mib(growth)} MiB")
    return verdict(not problems, detail,
                   f"{pings} Pings, dropped {when}, close {code}, +{mib(growth)} MiB",
                   pings_sent=pings, dropped_after_s=dropped and round(dropped, 2),
                   last_write_s=round(flood.last_write - flood.started, 2),
                   drop_seen_by=flood.how, close_code=code, rss_growth_kib=growth)


KEEPALIVE_CASES = ("idle_half_open", "never_reads", "ping_flood")


async def keepalive_phase(attack: Attack) -> list[dict]:
    """idle_half_open, never_reads and ping_flood at once; the latter two start once the idle
    connections are open (and the RSS baseline is read)."""
    phase = KeepalivePhase()

    async def after_opened(name: str, case) -> dict:
        await phase.opened.wait()
        return await measured(attack, name, lambda: case(attack, phase), announce=False)

    attack.announce("keepalive_phase")
    cases = []
    if attack.selected("idle_half_open"):
        cases.append(measured(attack, "idle_half_open", lambda: case_idle_half_open(attack, phase),
                              announce=False))
    else:
        phase.mark_opened(attack.server)
    for name, case in (("never_reads", case_never_reads), ("ping_flood", case_ping_flood)):
        if attack.selected(name):
            cases.append(after_opened(name, case))
    records = await asyncio.gather(*cases)
    if phase.peak:
        phase.peak.stop()
    return list(records)


# ----------------------------------------------------------------------------------------
# 5. empty_fragments


async def send_counted(session: Session, frames: Iterable[bytes], counter: list[int],
                       per_chunk: int) -> None:
    """Sends each chunk of `frames` in turn, adding `per_chunk` to counter[0] for each; stops
    quietly when the server stops taking them."""
    try:
        for chunk in frames:
            await session.send(chunk, 30.0)
            counter[0] += per_chunk
            await asyncio.sleep(0)  # let the reader see the Close between chunks
    except (OSError, TimeoutError):
        pass


async def case_empty_fragments(attack: Attack) -> Outcome:
    total, batch_len, expected = 1_000_000, 10_000, 1008
    session = await open_session(attack.target)
    peak = PeakWatch(attack.server)
    batch = b"".join(encode_frame(OP_CONTINUATION, b"", fin=False) for _ in range(batch_len))
    sent = [0]
    start = time.monotonic()
    await session.send(encode_frame(OP_TEXT, b"", fin=False))
    sender = asyncio.create_task(
        send_counted(session, [batch] * (total // batch_len), sent, batch_len))
    try:
        code = await session.read_until_close(30.0)
        problem = None if code == expected else f"the server closed with {code}, not {expected}"
    except TimeoutError:
        code, problem = None, "no Close within 30 s"
    except OSError as error:
        code, problem = None, f"reset without a Close ({errno_name(error)})"
    elapsed = time.monotonic() - start
    sender.cancel()
    session.abort()
    growth = peak.growth_kib()
    peak.stop()
    problems = [p for p in [problem] if p]
    if growth > 32 * 1024:
        problems.append(f"the server's RSS grew {mib(growth)} MiB (limit 32 MiB)")
    why = (f"max_fragments {attack.profile.max_fragments:,} < {total + 1:,} frames in one "
           f"message: 1008")
    detail = "; ".join(problems) or (
        f"Close {code} after {elapsed:.2f} s and about {sent[0]:,} frames sent ({why}); RSS "
        f"growth {mib(growth)} MiB")
    return verdict(not problems, detail,
                   f"Close {code} in {elapsed:.2f} s, ~{sent[0]:,} frames, +{mib(growth)} MiB",
                   close_code=code, expected_code=expected, close_after_s=round(elapsed, 2),
                   frames_sent_about=sent[0], rss_growth_kib=growth)


# ----------------------------------------------------------------------------------------
# 6. connect_close_cycles


async def connect_close_cycle(attack: Attack, _: int) -> None:
    session = await open_session(attack.target, timeout=5.0)
    try:
        await session.send(close_frame(1000), 5.0)
        code = await session.read_until_close(5.0)
        if code is None:
            raise ConnectionError("EOF without the server's Close")
        end = await read_to_end(session.sock, 5.0)
        if end.ended_after is None:
            raise ConnectionError("no EOF after the server's Close")
    finally:
        session.abort()


async def case_connect_close_cycles(attack: Attack) -> Outcome:
    cycles = 20_000 if attack.full else 5_000
    before = attack.server.snapshot()
    start = time.monotonic()
    results = await run_pool(cycles, CONCURRENCY, lambda i: connect_close_cycle(attack, i))
    elapsed = time.monotonic() - start
    errors = [r for r in results if isinstance(r, BaseException)]
    rss_limit = (before.rss_kib or 0) + max(4 * 1024, (before.rss_kib or 0) // 10)
    settled = time.monotonic()
    while True:
        now = attack.server.snapshot()
        fds_ok = now.fds is not None and before.fds is not None and \
            abs(now.fds - before.fds) <= FD_TOLERANCE
        rss_ok = now.rss_kib is not None and now.rss_kib <= rss_limit
        if (fds_ok and rss_ok) or time.monotonic() - settled >= 3.0:
            break
        await asyncio.sleep(0.1)
    problems = []
    if errors:
        problems.append(f"{len(errors)} cycles failed ({first_errors(errors)})")
    if not fds_ok:
        problems.append(f"descriptors {before.fds} → {now.fds} after 3 s")
    if not rss_ok:
        problems.append(f"RSS {mib(before.rss_kib)} → {mib(now.rss_kib)} MiB, over the "
                        f"{mib(rss_limit)} MiB allowed")
    rate = cycles / elapsed if elapsed else 0.0
    detail = "; ".join(problems) or (
        f"{cycles} cycles at {rate:.0f}/s; descriptors {before.fds} → {now.fds}, RSS "
        f"{mib(before.rss_kib)} → {mib(now.rss_kib)} MiB")
    return verdict(not problems, detail,
                   f"{cycles} cycles, {rate:.0f}/s, {len(errors)} failed",
                   cycles=cycles, cycles_per_s=round(rate, 1), failed=len(errors),
                   rss_limit_kib=rss_limit)


# ----------------------------------------------------------------------------------------
# 7. random_resets

RESET_POINTS = ("before_request", "mid_request", "after_101", "mid_frame", "after_message")


async def reset_at(attack: Attack, point: str) -> None:
    """One connection, reset at `point`."""
    if point in ("before_request", "mid_request"):
        sock = await connect(attack.target)
        if point == "mid_request":
            request = upgrade_request(attack.target.host_header, attack.target.path, new_key())
            await send_all(sock, request[:random.randrange(1, len(request) - 1)], 5.0)
        reset_socket(sock)
        return
    session = await open_session(attack.target, timeout=5.0)
    frame = encode_frame(OP_TEXT, b"reset " * random.randrange(1, 200))
    if point == "mid_frame":
        await session.send(frame[:random.randrange(1, len(frame))], 5.0)
    elif point == "after_message":
        await session.send(frame, 5.0)
    session.reset()


async def case_random_resets(attack: Attack) -> Outcome:
    count = 2000
    before = attack.server.snapshot()
    points = [random.choice(RESET_POINTS) for _ in range(count)]
    results = await run_pool(count, CONCURRENCY, lambda i: reset_at(attack, points[i]))
    errors = [r for r in results if isinstance(r, BaseException)]
    target_fds = (before.fds or 0) + FD_TOLERANCE
    took, fds = await attack.server.fds_settle(target_fds, 5.0)
    by_point = {point: points.count(point) for point in RESET_POINTS}
    problems = []
    if took is None:
        problems.append(f"descriptors still {fds} (baseline {before.fds}) 5 s after the last "
                        f"reset")
    elif took > 1.0:
        problems.append(f"descriptors back to baseline only {took:.2f} s after the last reset")
    if errors:
        problems.append(f"{len(errors)} connections failed before their reset "
                        f"({first_errors(errors)})")
    back = "never" if took is None else f"{took:.2f} s"
    detail = "; ".join(problems) or (
        f"{count} resets {by_point}; descriptors back to {fds} (baseline {before.fds}) "
        f"{back} after the last")
    return verdict(not problems, detail,
                   f"{count} resets, fds back in {back} (baseline {before.fds})",
                   resets=count, by_point=by_point, failed=len(errors),
                   fds_settle_s=took and round(took, 3), fds_settled=fds)


# ----------------------------------------------------------------------------------------
# 8. fin_with_data


def parse_fin_reply(data: bytes, payload: bytes) -> tuple[bool, bool]:
    """Whether the server's bytes hold a 101, and a text frame carrying `payload`."""
    if b"\r\n\r\n" not in data:
        return False, False
    head, rest = data.split(b"\r\n\r\n", 1)
    upgraded = head.split(b" ", 2)[1:2] == [b"101"]
    reader = FrameReader()
    reader.feed(rest)
    echoed = False
    while (frame := reader.next_frame()) is not None:
        echoed = echoed or (frame.opcode == OP_TEXT and payload in frame.payload)
    return upgraded, echoed


async def fin_one(attack: Attack, limit: float) -> tuple[ReadToEnd, bool, bool]:
    payload = b"fin-with-data"
    sock = await connect(attack.target)
    try:
        data = upgrade_request(attack.target.host_header, attack.target.path, new_key()) \
            + encode_frame(OP_TEXT, payload)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        if sock.send(data) != len(data):
            raise ConnectionError("the request did not fit in one send")
        sock.shutdown(socket.SHUT_WR)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        end = await read_to_end(sock, limit + 2.0)
    finally:
        quietly_close(sock)
    upgraded, echoed = parse_fin_reply(end.data, payload)
    return end, upgraded, echoed


async def case_fin_with_data(attack: Attack) -> Outcome:
    count, limit = 20, 3.0
    before = attack.server.snapshot()
    results = await asyncio.gather(*(fin_one(attack, limit) for _ in range(count)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    done = [r for r in results if isinstance(r, tuple)]
    times = [end.ended_after for end, _, _ in done if end.ended_after is not None]
    still_open = sum(1 for end, _, _ in done if end.ended_after is None)
    late = [t for t in times if t > limit]
    upgraded = sum(1 for _, up, _ in done if up)
    echoed = sum(1 for _, _, echo in done if echo)
    took, fds = await attack.server.fds_settle((before.fds or 0) + FD_TOLERANCE, 1.0)
    longest = max(times, default=0.0)
    problems = []
    if still_open:
        problems.append(f"{still_open} still open {limit + 2:.0f} s after the FIN")
    if late:
        problems.append(f"{len(late)} closed after {limit:.0f} s")
    if errors:
        problems.append(f"{len(errors)} failed ({first_errors(errors)})")
    if took is None:
        problems.append(f"descriptors {fds}, baseline {before.fds}, 1 s after")
    detail = "; ".join(problems) or (
        f"all {count} closed within {longest:.2f} s; {upgraded} answered 101, {echoed} echoed "
        f"the frame; descriptors back to {fds}")
    return verdict(not problems, detail,
                   f"{len(times)}/{count} EOF, max {longest:.2f} s, 101: {upgraded}, echoed: "
                   f"{echoed}",
                   connections=count, closed=len(times), max_close_s=round(longest, 3),
                   answered_101=upgraded, echoed=echoed)


# ----------------------------------------------------------------------------------------
# 12. one_address


#: Where one_address's connections come from: none of the attack's or the probe's addresses.
LONE_ADDRESS = "127.0.9.9"


async def case_one_address(attack: Attack) -> Outcome:
    """One address opens 100 more idle connections than the server admits from one address:
    the excess must be closed at once, and a client from another address still served."""
    target, per_address = attack.target, attack.profile.per_address
    count, excess = per_address + 100, 100
    before = attack.server.snapshot()
    loop = asyncio.get_running_loop()
    socks: list[socket.socket] = []
    try:
        connecting = time.monotonic()
        for _ in range(count):
            sock = new_socket()
            socks.append(sock)
            bind_source(sock, LONE_ADDRESS)
            await asyncio.wait_for(loop.sock_connect(sock, (target.host, target.port)), 5.0)
        connect_s = time.monotonic() - connecting
        await asyncio.sleep(1.0)
        held = held_client_ports(target.port)
        evidence = [drop_evidence(sock, target.port, held) for sock in socks]
        refused = sum(1 for seen in evidence if seen is not None)
        kinds = collections.Counter(seen for seen in evidence if seen is not None)
        started, served_error = time.monotonic(), ""
        try:
            session = await open_session(target, timeout=2.0)
            served_s: float | None = time.monotonic() - started
            session.abort()
        except Exception as error:  # noqa: BLE001 (reported as the verdict)
            served_s, served_error = None, describe(error)
    finally:
        for sock in socks:
            quietly_close(sock)
    took, fds = await attack.server.fds_settle((before.fds or 0) + FD_TOLERANCE, 3.0)
    problems = []
    if refused < excess - FD_TOLERANCE:
        problems.append(f"only {refused} of the {excess} over the cap were closed within 1 s")
    if refused > excess + FD_TOLERANCE:
        problems.append(f"{refused} closed, more than the {excess} over the cap (the {count} "
                        f"connects took {connect_s:.1f} s; held ones close at the handshake "
                        f"deadline; seen: {dict(kinds)})")
    if served_s is None:
        problems.append(f"a client from another address was not served ({served_error})")
    if took is None:
        problems.append(f"descriptors {fds}, baseline {before.fds}, 3 s after")
    served = "not served" if served_s is None else f"served in {served_s * 1000:.0f} ms"
    detail = "; ".join(problems) or (
        f"{count} from {LONE_ADDRESS}: {refused} closed at once, {count - refused} held (cap "
        f"{per_address}); another address {served}")
    return verdict(not problems, detail,
                   f"{count} from one address, {refused} refused (cap {per_address}), "
                   f"another address {served}",
                   connections=count, refused=refused, per_address=per_address,
                   other_served_ms=None if served_s is None else round(served_s * 1000, 1))


# ----------------------------------------------------------------------------------------
# 9. deflate_bomb


async def bomb_attempt(attack: Attack, session: Session, frames: list[bytes],
                       limit: float) -> tuple[int | None, float, int, str | None]:
    """Sends the bomb's frames while reading for the Close: its code, when it came, the
    server's peak RSS growth, and what went wrong."""
    peak = PeakWatch(attack.server)
    start = time.monotonic()
    sender = asyncio.create_task(send_counted(session, frames, [0], 1))
    try:
        code = await session.read_until_close(limit)
        problem = None if code == 1009 else f"closed with {code}, not 1009"
    except TimeoutError:
        code, problem = None, f"no Close within {limit:.0f} s"
    except OSError as error:
        code, problem = None, f"reset without a Close ({errno_name(error)})"
    elapsed = time.monotonic() - start
    sender.cancel()
    session.abort()
    await asyncio.sleep(0.1)
    growth = peak.growth_kib()
    peak.stop()
    if problem is None and growth > 100 * 1024:
        problem = f"RSS grew {mib(growth)} MiB (limit 100 MiB)"
    return code, elapsed, growth, problem


async def case_deflate_bomb(attack: Attack) -> Outcome:
    limit = 5.0
    if not attack.target.deflate:
        return skip("run without --deflate")
    first = await open_session(attack.target, deflate=True)
    if not first.deflate:
        first.abort()
        return skip("the server did not accept permessage-deflate")
    bomb = deflate_zeros(attack.profile.bomb_len, first.client_window_bits)
    opcode = attack.data_opcode
    single = [encode_frame(opcode, bomb, rsv1=True)]
    a = await bomb_attempt(attack, first, single, limit)
    second = await open_session(attack.target, deflate=True)
    fragments = fragment_frames(opcode, split_evenly(bomb, 64), rsv1=True)
    b = await bomb_attempt(attack, second, fragments, limit)
    problems = [f"({name}) {result[3]}" for name, result in (("a", a), ("b", b)) if result[3]]
    size = (f"{attack.profile.bomb_len // MIB} MiB of zeros in {len(bomb) / KIB:.0f} KiB "
            f"(max_message_len {attack.profile.max_message_len // KIB} KiB)")
    detail = "; ".join(problems) or (
        f"{size}: (a) one frame: Close {a[0]} in {a[1]:.2f} s, +{mib(a[2])} MiB; (b) 64 "
        f"fragments: Close {b[0]} in {b[1]:.2f} s, +{mib(b[2])} MiB")
    return verdict(not problems, detail,
                   f"a: {a[0]} in {a[1]:.2f} s +{mib(a[2])} MiB; b: {b[0]} in {b[1]:.2f} s "
                   f"+{mib(b[2])} MiB",
                   bomb_len=attack.profile.bomb_len, compressed_len=len(bomb),
                   frame_close_code=a[0], frame_close_s=round(a[1], 3), frame_rss_growth_kib=a[2],
                   fragments_close_code=b[0], fragments_close_s=round(b[1], 3),
                   fragments_rss_growth_kib=b[2])


# ----------------------------------------------------------------------------------------
# 10. oversized_head


def oversized_request(target: Target, size: int) -> bytes:
    """An upgrade request whose head is exactly `size` bytes, most of it one header."""
    key = new_key()
    base = len(upgrade_request(target.host_header, target.path, key))
    padding = size - base - len("X-Padding: \r\n")
    request = upgrade_request(target.host_header, target.path, key, padding=padding)
    assert len(request) == size
    return request


async def send_ignoring_errors(sock: socket.socket, data: bytes, timeout: float) -> None:
    try:
        await send_all(sock, data, timeout)
    except (OSError, TimeoutError):
        pass


async def case_oversized_head(attack: Attack) -> Outcome:
    size, limit = 64 * KIB, 3.0
    sock = await connect(attack.target)
    start = time.monotonic()
    sender = asyncio.create_task(send_ignoring_errors(sock, oversized_request(attack.target,
                                                                               size), limit))
    try:
        end = await read_to_end(sock, limit)
    finally:
        sender.cancel()
        quietly_close(sock)
    elapsed = time.monotonic() - start
    status_line = end.data.split(b"\r\n", 1)[0].decode("latin-1") if end.data else ""
    status = status_line.split(" ")[1] if status_line.count(" ") >= 1 else None
    closed = end.ended_after is not None
    ok = status == "431" or (closed and status != "101")
    if ok:
        detail = (f"answered {status_line!r}" if status else "closed without an answer") + \
            (f", closed ({end.how}) after {end.ended_after:.2f} s" if closed else "")
    elif status == "101":
        detail = f"the server accepted a {size // KIB} KiB head with {status_line!r}"
    else:
        detail = f"neither 431 nor a close within {limit:.0f} s (got {status_line!r})"
    return verdict(ok, detail, f"{status or 'no answer'}, {end.how} in {elapsed:.2f} s",
                   status=status, closed=closed, head_len=size)


# ----------------------------------------------------------------------------------------
# 11. over_output_limit


async def read_big_reply(session: Session, kind: str, timeout: float) -> tuple[Message | None,
                                                                             int | None]:
    """Reads until the echoed data message (echo) or a Close: (message, close code)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await session.read_message(deadline - time.monotonic())
        if message is None:
            return None, None
        if message.opcode == OP_CLOSE:
            return None, close_code(message.payload)
        if kind == "echo" and message.opcode in (OP_TEXT, OP_BINARY):
            return message, None


async def case_over_output_limit(attack: Attack) -> Outcome:
    size, fragment, limit = 24 * MIB, 64 * KIB, 30.0
    session = await open_session(attack.target)
    data = b"a" * size if attack.is_chat else os.urandom(size)
    checksum = zlib.crc32(data)
    pieces = [data[i:i + fragment] for i in range(0, size, fragment)]

    def frames():
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            yield encode_frame(attack.data_opcode if i == 0 else OP_CONTINUATION, piece,
                               fin=(i == last))

    start = time.monotonic()
    sender = asyncio.create_task(send_counted(session, frames(), [0], 1))
    try:
        message, code = await read_big_reply(session, attack.target.kind, limit)
        problem = None
    except TimeoutError:
        message, code, problem = None, None, f"neither the echo nor a Close within {limit:.0f} s"
    except OSError as error:
        message, code, problem = None, None, f"reset ({errno_name(error)})"
    elapsed = time.monotonic() - start
    sender.cancel()
    session.abort()
    echoed = message is not None and len(message.payload) == size and \
        zlib.crc32(message.payload) == checksum
    if problem is None:
        if message is not None and not echoed:
            problem = f"a wrong echo: {len(message.payload)} bytes, CRC mismatch or short"
        elif message is None and code != 1009:
            problem = f"closed with {code}, not 1009" if code else "ended without a Close"
        elif attack.is_chat and code != 1009:
            problem = "the chat should close with 1009 (24 MiB is over its 16 KiB limit)"
    outcome = f"echo of {size // MIB} MiB intact" if echoed else f"Close {code}"
    detail = problem or f"{outcome} after {elapsed:.2f} s"
    return verdict(problem is None, detail, f"{outcome} in {elapsed:.2f} s",
                   echoed=echoed, close_code=code, reply_s=round(elapsed, 2), message_len=size)


# ----------------------------------------------------------------------------------------
# The run.


async def run_all(attack: Attack) -> None:
    sequence: list[tuple[str, Callable[[Attack], Awaitable[Outcome]]]] = [
        ("empty_fragments", case_empty_fragments),
        ("connect_close_cycles", case_connect_close_cycles),
        ("random_resets", case_random_resets),
        ("fin_with_data", case_fin_with_data),
        ("deflate_bomb", case_deflate_bomb),
        ("oversized_head", case_oversized_head),
        ("over_output_limit", case_over_output_limit),
        ("one_address", case_one_address),
    ]
    if attack.selected("slowloris"):
        attack.emit(await measured(attack, "slowloris", lambda: case_slowloris(attack)))
    if any(attack.selected(name) for name in KEEPALIVE_CASES):
        for record in await keepalive_phase(attack):
            attack.emit(record)
    for name, case in sequence:
        if attack.selected(name):
            attack.emit(await measured(attack, name, lambda case=case: case(attack)))
            await asyncio.sleep(0.5)  # let the server settle between cases
    attack.announce("end")


def markdown_table(server: str, records: list[dict]) -> str:
    lines = [f"### {server}", "",
             "| case | verdict | key figures | RSS before → after (MiB) | fds before → after |",
             "|---|---|---|---|---|"]
    for r in records:
        figures = r["summary"].replace("|", "\\|")
        lines.append(f"| {r['case']} | {r['verdict']} | {figures} | "
                     f"{mib(r['rss_kib_before'])} → {mib(r['rss_kib_after'])} | "
                     f"{r['fds_before']} → {r['fds_after']} |")
    return "\n".join(lines) + "\n"


def raise_descriptor_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Attack one running wsmachine example server.")
    parser.add_argument("--server", required=True, help="the server's name, for the report")
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/PATH of its WebSocket")
    parser.add_argument("--pid", required=True, type=int, help="the server's process id")
    parser.add_argument("--kind", required=True, choices=sorted(PROFILES))
    parser.add_argument("--full", action="store_true", help="full sizes (slower)")
    parser.add_argument("--deflate", action="store_true",
                        help="offer permessage-deflate in the deflate bomb case")
    parser.add_argument("--source-addresses", type=int, default=250, metavar="N",
                        help="spread the attack's connections over N loopback addresses "
                             "(0: all from the default address)")
    parser.add_argument("--only", metavar="CASE,...",
                        help="run only these cases (for a quick look at a few)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    raise_descriptor_limit()
    target = Target.from_args(args)
    server = ServerProcess(args.pid)
    if not server.alive():
        raise SystemExit(f"no process {args.pid}")
    probe = ProbeProcess.start(target)
    only = set(args.only.split(",")) if args.only else None
    attack = Attack(target, server, args.full, probe, only)
    try:
        asyncio.run(run_all(attack))
    finally:
        probes = probe.finish()
    snapshot = server.snapshot()
    attack.emit(attack.record("probe", probe_outcome(probes, probe.nice), snapshot, snapshot, 0.0))
    print(markdown_table(target.name, attack.records), flush=True)
    return 1 if any(r["verdict"] == "FAIL" for r in attack.records) else 0


if __name__ == "__main__":
    sys.exit(main())
