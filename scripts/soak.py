#!/usr/bin/env python3
"""A soak test against one running wsmachine echo server (standard library only).

Usage:

    python3 scripts/soak.py --server NAME --url ws://127.0.0.1:PORT/ --pid SERVER_PID \
        [--seconds 120] [--connections 2000] [--deflate]

Keeps --connections client sessions open at once for --seconds, each replaced by a new one when
it ends. A session connects (offering permessage-deflate on most sessions with --deflate),
lives for a random time (exponential, mean 10 s), and meanwhile sends messages of random sizes
(1 B to 64 KiB, log-uniform), text or binary, whole or in 2 to 8 fragments, compressed or not
when compression was negotiated, and Pings with random payloads, with random pauses between;
every echo and every Pong is checked byte for byte against what was sent. It ends in one of
three ways: a clean closing handshake (70%), a reset (SO_LINGER 0, 20%), or a FIN without a
Close (10%).

Every two seconds the server's RSS (VmRSS) and open descriptors are sampled. At the end the
script stops opening sessions, lets the open ones finish, and waits for the descriptors to
settle. It prints one JSON line with the figures (sessions, messages, bytes, mismatches,
errors, RSS and descriptors at the start, the peak and the end, and their slopes over the
second half of the run, per minute) and exits 1 unless the run passes:

- every echo and Pong matched what was sent, and no session failed other than by our own
  reset (a failure is a handshake refused, a Close with another code than ours, a stream that
  ended early, or a reply that did not come within 10 s);
- memory stays bounded: the RSS never passes 512 KiB a connection plus 64 MiB (a compressed
  connection holds about 320 KiB with the default windows, an uncompressed one a few KiB),
  and its slope over the second half is under 50% of its mean there, per minute (a gross
  leak). The slope is reported rather than required to be near zero: with compression,
  glibc keeps freed zlib windows and the RSS creeps up towards a plateau for minutes (in
  90 s runs, 1% a minute for echo_mio and 17% for echo_tokio, whose connections also keep
  their output buffers), so only the hour-long run by hand can show it level off; that no
  connection leaks is proven exactly by tests/alloc_count.rs
  (`compressed_connections_leave_nothing_behind`);
- the descriptors are back to the start (within 2) within 3 s of the last session's end.

The WebSocket client is the attack suite's (scripts/attack.py): handshake, masked frames,
sessions, connections from many loopback addresses (the examples cap connections per
address), and the server's figures from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack as ws  # noqa: E402  (the client lives beside this script)

#: Mean session lifetime, seconds.
MEAN_LIFETIME = 10.0
#: Mean pause between a session's actions, seconds.
MEAN_PAUSE = 1.0
#: Largest message sent.
MAX_MESSAGE = 64 * 1024
#: How long a reply may take.
REPLY_TIMEOUT = 10.0
#: How often the server is sampled, seconds.
SAMPLE_INTERVAL = 2.0


@dataclasses.dataclass
class Tally:
    sessions: int = 0
    messages: int = 0
    pings: int = 0
    bytes: int = 0
    compressed: int = 0
    fragmented: int = 0
    mismatches: int = 0
    errors: int = 0
    ends: dict = dataclasses.field(default_factory=lambda: {"close": 0, "reset": 0, "fin": 0})
    first_problems: list = dataclasses.field(default_factory=list)

    def problem(self, kind: str, detail: str) -> None:
        if kind == "mismatch":
            self.mismatches += 1
        else:
            self.errors += 1
        if len(self.first_problems) < 5:
            self.first_problems.append(f"{kind}: {detail}")


def random_payload(rng: random.Random, text: bool) -> bytes:
    size = min(MAX_MESSAGE, int(2 ** rng.uniform(0, 16)))
    if text:
        # Multi-byte characters too, so that fragments may cut one in two.
        alphabet = "abcdefghij é€😀"
        chars = "".join(rng.choice(alphabet) for _ in range(max(1, size // 2)))
        return chars.encode()[:size].decode("utf-8", "ignore").encode()
    return rng.randbytes(size)


def compress(payload: bytes, window_bits: int) -> bytes:
    """One permessage-deflate message from a fresh compressor (valid whatever the context
    takeover: it refers to nothing before it), its 00 00 ff ff tail stripped."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -max(window_bits, 9))
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-len(ws.DEFLATE_TAIL)]


async def next_reply(session: ws.Session, want: int) -> ws.Message | None:
    """The next message or control frame of type `want`, answering the server's keepalive
    Pings on the way."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        message = await session.read_message(deadline - time.monotonic())
        if message is None or message.opcode == want or message.opcode == ws.OP_CLOSE:
            return message
        if message.opcode == ws.OP_PING:
            await session.send(ws.encode_frame(ws.OP_PONG, message.payload))


async def exchange_message(session: ws.Session, rng: random.Random, tally: Tally) -> bool:
    """Sends one message and checks its echo; False once the session cannot go on."""
    text = rng.random() < 0.5
    opcode = ws.OP_TEXT if text else ws.OP_BINARY
    payload = random_payload(rng, text)
    wire, rsv1 = payload, False
    if session.deflate and rng.random() < 0.5:
        wire, rsv1 = compress(payload, session.client_window_bits), True
        tally.compressed += 1
    pieces = 1 if rng.random() < 0.6 else rng.randint(2, 8)
    if pieces > 1:
        tally.fragmented += 1
    frames = ws.fragment_frames(opcode, ws.split_evenly(wire, pieces) if wire else [b""],
                                rsv1=rsv1)
    await session.send(b"".join(frames))
    reply = await next_reply(session, opcode)
    if reply is None or reply.opcode != opcode:
        got = "the end" if reply is None else f"opcode {reply.opcode}"
        tally.problem("error", f"{len(payload)} B message answered with {got}")
        return False
    if reply.payload != payload:
        tally.problem("mismatch", f"{len(payload)} B sent, {len(reply.payload)} B back, differ")
        return False
    tally.messages += 1
    tally.bytes += len(payload)
    return True


async def exchange_ping(session: ws.Session, rng: random.Random, tally: Tally) -> bool:
    payload = rng.randbytes(rng.randint(0, 125))
    await session.send(ws.encode_frame(ws.OP_PING, payload))
    reply = await next_reply(session, ws.OP_PONG)
    if reply is None or reply.opcode != ws.OP_PONG or reply.payload != payload:
        tally.problem("mismatch" if reply else "error", "Ping not answered with its Pong")
        return False
    tally.pings += 1
    return True


async def end_session(session: ws.Session, rng: random.Random, tally: Tally) -> None:
    roll = rng.random()
    if roll < 0.7:
        await session.send(ws.close_frame(1000))
        code = await session.read_until_close(REPLY_TIMEOUT)
        if code != 1000:
            tally.problem("error", f"our Close 1000 answered with {code}")
        tally.ends["close"] += 1
        session.abort()
    elif roll < 0.9:
        tally.ends["reset"] += 1
        session.reset()
    else:
        tally.ends["fin"] += 1
        session.sock.shutdown(ws.socket.SHUT_WR)
        session.abort()


async def one_session(target: ws.Target, rng: random.Random, tally: Tally,
                      stop_at: float) -> None:
    try:
        session = await ws.open_session(target, deflate=target.deflate and rng.random() < 0.7)
    except Exception as error:  # noqa: BLE001 (any failure is reported, not raised)
        tally.problem("error", f"handshake: {ws.describe(error)}")
        await asyncio.sleep(1.0)
        return
    tally.sessions += 1
    end_at = min(stop_at, time.monotonic() + rng.expovariate(1 / MEAN_LIFETIME))
    try:
        while time.monotonic() < end_at:
            await asyncio.sleep(min(rng.expovariate(1 / MEAN_PAUSE), end_at - time.monotonic()))
            exchange = exchange_ping if rng.random() < 0.1 else exchange_message
            if not await exchange(session, rng, tally):
                session.abort()
                return
        await end_session(session, rng, tally)
    except Exception as error:  # noqa: BLE001
        tally.problem("error", ws.describe(error))
        session.abort()


async def keep_sessions(target: ws.Target, slot: int, tally: Tally, stop_at: float) -> None:
    rng = random.Random(slot)
    # Start spread over the first five seconds, not all at once.
    await asyncio.sleep(rng.uniform(0, 5))
    while time.monotonic() < stop_at:
        await one_session(target, rng, tally, stop_at)


def slope_per_minute(samples: list[tuple[float, int]]) -> float:
    """The least-squares slope of (seconds, value) samples, per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread


async def run(args: argparse.Namespace) -> dict:
    target = ws.Target.from_args(args)
    server = ws.ServerProcess(args.pid)
    start = server.snapshot()
    started = time.monotonic()
    stop_at = started + args.seconds
    tally = Tally()
    rss: list[tuple[float, int]] = []
    fds: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            snapshot = server.snapshot()
            at = time.monotonic() - started
            if snapshot.rss_kib is not None and snapshot.fds is not None:
                rss.append((at, snapshot.rss_kib))
                fds.append((at, snapshot.fds))
            await asyncio.sleep(SAMPLE_INTERVAL)

    sampler = asyncio.create_task(sample())
    workers = [asyncio.create_task(keep_sessions(target, slot, tally, stop_at))
               for slot in range(args.connections)]
    await asyncio.gather(*workers)
    settle, end_fds = await server.fds_settle((start.fds or 0) + ws.FD_TOLERANCE, 3.0)
    sampler.cancel()
    end = server.snapshot()
    half = args.seconds / 2
    rss_slope = slope_per_minute([s for s in rss if half <= s[0] <= args.seconds])
    fd_slope = slope_per_minute([s for s in fds if half <= s[0] <= args.seconds])
    peak_rss = max((v for _, v in rss), default=0)
    problems = []
    if tally.mismatches or tally.errors:
        problems.append(f"{tally.mismatches} mismatches, {tally.errors} errors: "
                        + "; ".join(tally.first_problems))
    second_half = [v for t, v in rss if half <= t <= args.seconds]
    steady_rss = sum(second_half) / len(second_half) if second_half else 0
    bound = args.connections * 512 + 64 * 1024
    if peak_rss > bound:
        problems.append(f"RSS peaked at {peak_rss} KiB, over {bound} KiB")
    if rss_slope > 0.50 * steady_rss:
        problems.append(f"RSS grows {rss_slope:.0f} KiB a minute under steady load "
                        f"(mean {steady_rss:.0f} KiB)")
    if settle is None:
        problems.append(f"descriptors at {end_fds}, not back to {start.fds} within 3 s")
    return {
        "server": args.server,
        "verdict": "FAIL" if problems else "PASS",
        "detail": "; ".join(problems) or "every echo matched; memory and descriptors flat",
        "seconds": args.seconds,
        "connections": args.connections,
        "sessions": tally.sessions,
        "messages": tally.messages,
        "pings": tally.pings,
        "mib_echoed": round(tally.bytes / 2**20, 1),
        "compressed": tally.compressed,
        "fragmented": tally.fragmented,
        "ends": tally.ends,
        "mismatches": tally.mismatches,
        "errors": tally.errors,
        "rss_kib_start": start.rss_kib,
        "rss_kib_peak": peak_rss,
        "rss_kib_end": end.rss_kib,
        "rss_kib_mean_second_half": round(steady_rss),
        "rss_kib_per_minute_second_half": round(rss_slope, 1),
        "fds_start": start.fds,
        "fds_peak": max((v for _, v in fds), default=0),
        "fds_end": end_fds,
        "fds_per_minute_second_half": round(fd_slope, 2),
        "fds_settled_s": None if settle is None else round(settle, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--source-addresses", type=int, default=250)
    args = parser.parse_args()
    args.kind = "echo"
    ws.raise_descriptor_limit()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    return 0 if result["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
