#!/usr/bin/env python3
"""Writes a corpus of realistic WebSocket messages, one per line, for the compression figures.

Usage: scripts/message_corpus.py chat|ticks [--messages 2000] [--seed 6455] > corpus.jsonl

`chat`: chat events (a room, a user, a sentence of common words, an id and a timestamp, as a
chat server relays them). `ticks`: market data (trades and book updates for a dozen symbols,
prices moving by small steps). These are the two kinds of stream that servers send to many
clients, and one connection carries one kind, so each is a corpus of its own. The seed fixes every byte, so the
figures in docs/benchmarks.md can be reproduced exactly.
"""

import argparse
import json
import random

WORDS = (
    "the be to of and a in that have it for not on with he as you do at this but his by from "
    "they we say her she or an will my one all would there their what so up out if about who "
    "get which go me when make can like time no just him know take people into year your good "
    "some could them see other than then now look only come its over think also back after use "
    "two how our work first well way even new want because any these give day most us great "
    "meeting tomorrow deploy release fixed bug thanks lunch coffee build tests green review "
    "merge branch ticket customer weekend sounds perfect agreed later tonight morning"
).split()
ROOMS = ["general", "random", "engineering", "support", "sales", "ops"]
USERS = [f"{name}{n}" for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
         for n in (1, 7, 42)]
SYMBOLS = {"BTCUSDT": 43250.0, "ETHUSDT": 2310.0, "SOLUSDT": 98.4, "BNBUSDT": 305.2,
           "XRPUSDT": 0.6123, "ADAUSDT": 0.5871, "DOGEUSDT": 0.0912, "AVAXUSDT": 36.75,
           "LINKUSDT": 14.82, "DOTUSDT": 7.315, "MATICUSDT": 0.8431, "LTCUSDT": 71.9}


def chat(rng: random.Random, seq: int, now_ms: int) -> dict:
    words = rng.choices(WORDS, k=rng.randint(3, 24))
    text = " ".join(words).capitalize() + rng.choice([".", "!", "?", "", " :)"])
    return {"type": "message", "room": rng.choice(ROOMS), "user": rng.choice(USERS),
            "text": text, "id": f"m{seq:08d}", "ts": now_ms}


def tick(rng: random.Random, prices: dict, seq: int, now_ms: int) -> dict:
    symbol = rng.choice(list(prices))
    prices[symbol] *= 1 + rng.gauss(0, 0.0004)
    price = prices[symbol]
    digits = 2 if price > 100 else 4
    if rng.random() < 0.6:
        return {"e": "trade", "E": now_ms, "s": symbol, "t": 1_000_000 + seq,
                "p": f"{price:.{digits}f}", "q": f"{rng.uniform(0.001, 5):.4f}",
                "T": now_ms - rng.randint(0, 5), "m": rng.random() < 0.5}
    levels = rng.randint(1, 5)
    side = lambda sign: [[f"{price * (1 + sign * 0.0001 * (i + 1)):.{digits}f}",
                          f"{rng.uniform(0.01, 20):.3f}"] for i in range(levels)]
    return {"e": "depthUpdate", "E": now_ms, "s": symbol, "U": 5_000_000 + 2 * seq,
            "u": 5_000_001 + 2 * seq, "b": side(-1), "a": side(1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["chat", "ticks"])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=6455)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    prices = dict(SYMBOLS)
    now_ms = 1_764_720_000_000
    for seq in range(args.messages):
        now_ms += rng.randint(0, 250)
        message = chat(rng, seq, now_ms) if args.kind == "chat" else tick(rng, prices, seq, now_ms)
        print(json.dumps(message, separators=(",", ":")))


if __name__ == "__main__":
    main()
