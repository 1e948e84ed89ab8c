#!/usr/bin/env python3
"""Prints criterion results as Markdown tables with ratios against the peers of the same run.

Usage: scripts/bench_table.py GROUP [BASELINE_FUNCTION]
Reads $CRITERION_DIR/GROUP/*/*/new/{estimates,benchmark}.json (CRITERION_DIR defaults to
target/criterion; the files hold the last `cargo bench` run) and prints one Markdown table: a row per parameter (size/alignment), each function's median
(GB/s for byte throughput, or MB/s when every figure is below 1 GB/s; ns per element for element throughput), then the ratio of
BASELINE_FUNCTION (default: wsmachine) to each other function: how many times faster it is.
"""
import json
import pathlib
import sys

group = sys.argv[1]
ours = sys.argv[2] if len(sys.argv) > 2 else "wsmachine"
root = pathlib.Path(__import__("os").environ.get("CRITERION_DIR", "target/criterion")) / group
rows = {}
for bench in root.glob("**/new/benchmark.json"):
    meta = json.loads(bench.read_text())
    estimates = json.loads((bench.parent / "estimates.json").read_text())
    median_ns = estimates["median"]["point_estimate"]
    throughput = meta.get("throughput") or {}
    function = meta["function_id"]
    parameter = meta.get("value_str") or ""
    if "Bytes" in throughput:
        value = throughput["Bytes"] / median_ns  # bytes per ns = GB/s
        unit = "GB/s"
    elif "Elements" in throughput:
        value = median_ns / throughput["Elements"]  # ns per element
        unit = "ns/elem"
    else:
        value, unit = median_ns, "ns"
    rows.setdefault(parameter, {})[function] = (value, unit)


def size_key(parameter):
    head = parameter.split("/")[0]
    return (int(head) if head.isdigit() else 0, parameter)


functions = sorted({f for results in rows.values() for f in results}, key=lambda f: (f != ours, f))
peers = [f for f in functions if f != ours]
unit = next(iter(next(iter(rows.values())).values()))[1]
if unit == "GB/s" and all(v < 1 for results in rows.values() for v, _ in results.values()):
    # Below 1 GB/s everywhere (compression, say): MB/s keeps the significant digits.
    rows = {p: {f: (v * 1000, "MB/s") for f, (v, _) in r.items()} for p, r in rows.items()}
    unit = "MB/s"
print(f"| {group} ({unit}) | " + " | ".join(functions) + " | " + " | ".join(f"×{p}" for p in peers) + " |")
print("|---" * (1 + len(functions) + len(peers)) + "|")
for parameter in sorted(rows, key=size_key):
    results = rows[parameter]
    cells = [f"{results[f][0]:.2f}" if f in results else "" for f in functions]
    ratios = []
    for peer in peers:
        if ours in results and peer in results:
            a, b = results[ours][0], results[peer][0]
            ratios.append(f"{a / b:.2f}" if unit in ("GB/s", "MB/s") else f"{b / a:.2f}")
        else:
            ratios.append("")
    print(f"| {parameter} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
