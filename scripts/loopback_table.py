#!/usr/bin/env python3
"""Markdown tables from the loopback benchmark's results (scripts/loopback.sh).

    scripts/loopback_table.py [target/loopback/results.json] > results.md

Throughput is messages per second up to 1 KiB and MB/s (10^6 bytes of echoed payload) from
64 KiB up. Ratios are "above 1: wsmachine is better": throughput ours / theirs, CPU per
message theirs / ours. The best peer is the fastest (or cheapest) of the WebSocket peers;
raw-copy, which does no WebSocket work, is only the ceiling. Several records for one server
and scenario (repeated runs) are summarised by their median.
"""

import json
import statistics
import sys
from collections import defaultdict

OURS = ["echo_mio", "echo_tokio"]
PEERS = ["tungstenite-batched", "tungstenite-simple", "fastwebsockets", "tokio-websockets"]
REFERENCE = ["raw-copy"]
ORDER = OURS + PEERS + REFERENCE
BATCHED = "tungstenite-batched"
# Machine CPU used by neither side (in cores) above which a run is flagged as disturbed.
NOISY = 0.15


def size_label(size):
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} B"


def scenario_key(record):
    if "scenario" in record:  # a failed run: "mode:size:conns" or "idle"
        if record["scenario"] == "idle":
            return ("idle", 16, 0)
        mode, size, conns = record["scenario"].split(":")
        return (mode, int(size), int(conns))
    if record["mode"] == "idle":
        return ("idle", 16, 0)
    return (record["mode"], record["size"], record["conns"])


def scenario_label(key):
    mode, size, conns = key
    return f"{mode} {size_label(size)} ×{conns}"


def large(key):
    return key[1] >= 64 * 1024


def throughput(record, key):
    return record["mb_per_s"] if large(key) else record["msgs_per_s"]


def unit(key):
    return "MB/s" if large(key) else "msg/s"


def fmt_rate(value, key):
    if large(key):
        return f"{value:,.0f}"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def fmt_ns(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}"


def median_of(records, field):
    values = [r[field] for r in records if field in r]
    return statistics.median(values) if values else None


def load(path):
    with open(path) as file:
        records = json.load(file)
    # results[key][server] = list of records (an error record is {"error": true})
    results = defaultdict(lambda: defaultdict(list))
    for record in records:
        results[scenario_key(record)][record["server"]].append(record)
    return results


def servers_in(results):
    seen = {server for by_server in results.values() for server in by_server}
    return [s for s in ORDER if s in seen] + sorted(seen - set(ORDER))


def row(cells):
    return "| " + " | ".join(cells) + " |"


def header(first, columns):
    return [row([first] + columns), row(["---"] * (len(columns) + 1))]


class Scenario:
    """The per-server figures of one scenario (medians; None for a failed or missing run)."""

    def __init__(self, key, by_server):
        self.key = key
        self.rate = {}
        self.ns = {}
        self.util = {}
        self.other = 0.0
        self.failed = set()
        self.runs = max(len(records) for records in by_server.values())
        for server, records in by_server.items():
            good = [r for r in records if not r.get("error")]
            if not good:
                self.failed.add(server)
                continue
            self.rate[server] = statistics.median(throughput(r, key) for r in good)
            self.ns[server] = median_of(good, "server_cpu_ns_per_msg")
            self.util[server] = (
                median_of(good, "server_cpu_util"),
                median_of(good, "client_cpu_util"),
                median_of(good, "other_cpu_util"),
            )
            self.other = max(self.other, max(r.get("other_cpu_util", 0.0) for r in good))

    def best_peer(self, figures, pick):
        peers = {s: v for s, v in figures.items() if s in PEERS and v is not None}
        if not peers:
            return None, None
        server = pick(peers, key=peers.get)
        return server, peers[server]

    def cell_rate(self, server):
        if server in self.failed:
            return "FAILED"
        return fmt_rate(self.rate[server], self.key) if server in self.rate else ""

    def cell_ns(self, server):
        if server in self.failed:
            return "FAILED"
        value = self.ns.get(server)
        return "" if value is None else fmt_ns(value)


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "target/loopback/results.json"
    results = load(path)
    servers = servers_in(results)
    scenarios = [Scenario(k, results[k]) for k in results if k[0] != "idle"]
    out = []

    if scenarios:
        out += load_tables(scenarios, servers)
    idle = results.get(("idle", 16, 0))
    if idle:
        out += idle_table(idle, servers)
    print("\n".join(out))


def load_tables(scenarios, servers):
    """Throughput, CPU per message, the ratios, and CPU use, one row per scenario."""
    out = []
    out.append("### Throughput (higher is better)")
    out.append("")
    out += header("scenario", ["unit"] + servers + ["others' CPU"])
    for s in scenarios:
        flag = f"{s.other:.2f}" + (" ⚠" if s.other > NOISY else "")
        out.append(row([scenario_label(s.key), unit(s.key)]
                       + [s.cell_rate(v) for v in servers] + [flag]))
    out.append("")
    out.append("\"others' CPU\": the most CPU (in cores) that processes other than the server "
               f"and the load client used during one of the scenario's runs; ⚠ above {NOISY}.")
    runs = max(s.runs for s in scenarios)
    if runs > 1:
        out.append(f"Every figure is the median of up to {runs} runs.")
    out.append("")

    out.append("### Server CPU per message, ns (lower is better)")
    out.append("")
    out += header("scenario", servers)
    for s in scenarios:
        out.append(row([scenario_label(s.key)] + [s.cell_ns(v) for v in servers]))
    out.append("")

    ours = [o for o in OURS if o in servers]
    if ours:
        out.append("### wsmachine against the peers (above 1: wsmachine is better)")
        out.append("")
        columns = []
        for o in ours:
            columns += [f"{o} ÷ {BATCHED}", f"{o} ÷ best peer"]
        for o in ours:
            columns.append(f"CPU/msg: cheapest peer ÷ {o}")
        out += header("scenario", ["best peer", "cheapest peer"] + columns)
        for s in scenarios:
            best, best_rate = s.best_peer(s.rate, max)
            cheap, cheap_ns = s.best_peer(s.ns, min)
            cells = [best or "–", cheap or "–"]
            for o in ours:
                cells.append(fmt_ratio(ratio(s.rate.get(o), s.rate.get(BATCHED))))
                cells.append(fmt_ratio(ratio(s.rate.get(o), best_rate)))
            for o in ours:
                cells.append(fmt_ratio(ratio(cheap_ns, s.ns.get(o))))
            out.append(row([scenario_label(s.key)] + cells))
        out.append("")

    out.append("### CPU use during each run, in cores: server / load client / others")
    out.append("")
    out += header("scenario", servers)
    for s in scenarios:
        cells = []
        for v in servers:
            if v in s.util:
                cells.append(" / ".join("?" if u is None else f"{u:.2f}" for u in s.util[v]))
            else:
                cells.append("FAILED" if v in s.failed else "")
        out.append(row([scenario_label(s.key)] + cells))
    out.append("")

    return out


def idle_table(idle, servers):
    """Server memory per idle connection, one row per server."""
    out = []
    late = any("bytes_per_conn_late" in r for rs in idle.values() for r in rs)
    out.append("### Server memory per idle connection (lower is better)")
    out.append("")
    columns = ["connections", "RSS before (MiB)", "RSS after (MiB)", "per connection (KiB)"]
    if late:
        columns.append("per connection, later (KiB)")
    out += header("server", columns)
    for v in servers:
        records = idle.get(v)
        if not records:
            continue
        good = [r for r in records if not r.get("error")]
        if not good:
            out.append(row([v, "FAILED"] + [""] * (len(columns) - 1)))
            continue
        cells = [
            f"{good[0]['conns']:,}",
            f"{median_of(good, 'rss_before') / 2**20:.1f}",
            f"{median_of(good, 'rss_after') / 2**20:.1f}",
            f"{median_of(good, 'bytes_per_conn') / 1024:.1f}",
        ]
        if late:
            value = median_of(good, "bytes_per_conn_late")
            cells.append("" if value is None else f"{value / 1024:.1f}")
        out.append(row([v] + cells))
    settle = next((r["settle_s"] for rs in idle.values() for r in rs if "settle_s" in r), None)
    late_s = next((r["late_s"] for rs in idle.values() for r in rs if "late_s" in r), None)
    note = f"RSS sampled {settle} s after the last connection was ready"
    if late_s is not None:
        note += f", and again {late_s} s after it (\"later\")"
    out.append("")
    out.append(note + "; before: after one warm-up connection. Each connection has "
               "echoed one 16-byte message.")
    out.append("")
    return out


if __name__ == "__main__":
    main()
