#!/usr/bin/env python3
"""A chart (hand-written SVG, stdlib only) of the loopback benchmark's results.

    scripts/loopback_chart.py [target/loopback/results.json] [docs/loopback.svg] [FOOTNOTE]

Top panel: for each scenario, one horizontal bar per server, scaled to the fastest server of
that scenario, labelled with its throughput and the server's CPU time per message. Bottom
panel: server memory per idle connection. wsmachine's servers are drawn in warm colours, the
peers in cool ones, raw-copy (no WebSocket work: the ceiling) in grey.
"""

import sys
from html import escape

sys.dont_write_bytecode = True  # no __pycache__ left in scripts/
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import loopback_table as table  # noqa: E402  (the same reading and grouping of the results)

COLORS = {
    "echo_mio": "#d9480f",
    "echo_tokio": "#f59f00",
    "tungstenite-batched": "#1c7ed6",
    "tungstenite-simple": "#74c0fc",
    "fastwebsockets": "#2b8a3e",
    "tokio-websockets": "#7048e8",
    "raw-copy": "#adb5bd",
}
WIDTH = 980
LABEL_X = 170  # bars start here; server names end just before
BAR_MAX = 480
BAR_H = 13
BAR_GAP = 3
GROUP_GAP = 14
FONT = "font-family='Helvetica, Arial, sans-serif'"


def text(x, y, content, size=12, anchor="start", weight="normal", fill="#212529"):
    return (f"<text x='{x:.1f}' y='{y:.1f}' {FONT} font-size='{size}' text-anchor='{anchor}' "
            f"font-weight='{weight}' fill='{fill}'>{escape(content)}</text>")


def bar(y, server, fraction, label, elements):
    """One bar row at y: the server's name, the bar, the label after it. A fraction above 1
    is drawn cut at the scale's end, with a break mark."""
    elements.append(text(LABEL_X - 8, y + BAR_H - 2.5, server, size=11, anchor="end"))
    if fraction is None:
        elements.append(text(LABEL_X + 4, y + BAR_H - 2.5, label, size=11, fill="#c92a2a"))
        return
    width = max(1.0, BAR_MAX * min(fraction, 1.0))
    color = COLORS.get(server, "#495057")
    elements.append(f"<rect x='{LABEL_X}' y='{y:.1f}' width='{width:.1f}' height='{BAR_H}' "
                    f"fill='{color}' rx='2'/>")
    if fraction > 1.0:
        x = LABEL_X + width - 14
        elements.append(f"<path d='M{x:.1f} {y + BAR_H + 1:.1f} l4 {-BAR_H - 2} m4 0 "
                        f"l-4 {BAR_H + 2}' stroke='white' stroke-width='2.5' fill='none'/>")
        label += f"  (off scale: {fraction:.1f}×)"
    elements.append(text(LABEL_X + width + 6, y + BAR_H - 2.5, label, size=11))


def rate_label(value, key):
    return f"{table.fmt_rate(value, key)} {table.unit(key)}"


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "target/loopback/results.json"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/loopback.svg"
    footnote = sys.argv[3] if len(sys.argv) > 3 else None
    results = table.load(source)
    servers = table.servers_in(results)
    scenarios = [table.Scenario(k, results[k]) for k in results if k[0] != "idle"]
    elements = []
    y = 30
    elements.append(text(20, y, "wsmachine loopback echo: throughput and memory", size=18,
                         weight="bold"))
    y += 20
    elements.append(text(20, y, "One server thread each (mio, or tokio current_thread); load "
                         "client on the same 2-vCPU VM; loopback TCP.", size=12, fill="#495057"))
    y += 16
    elements.append(text(20, y, "Bars are scaled to the fastest WebSocket server of each "
                         "scenario; labels give throughput and the server's CPU time per "
                         "message.", size=12, fill="#495057"))
    y += 16
    elements.append(text(20, y, "stream: frames sent continuously; oneshot: one message at a "
                         "time; ×N: connections. raw-copy echoes bytes with no WebSocket "
                         "work: the ceiling.", size=12, fill="#495057"))
    y += 26

    # Legend.
    x = 20
    for server in servers:
        elements.append(f"<rect x='{x}' y='{y - 10}' width='12' height='12' "
                        f"fill='{COLORS.get(server, '#495057')}' rx='2'/>")
        elements.append(text(x + 17, y, server, size=12))
        x += 30 + 7.0 * len(server)
    y += 34

    elements.append(text(20, y, "Echo throughput (longer is better)", size=15, weight="bold"))
    y += 12
    for s in scenarios:
        y += GROUP_GAP
        elements.append(text(20, y + 4, f"{table.scenario_label(s.key)}  ({table.unit(s.key)})",
                             size=13, weight="bold"))
        if s.other > table.NOISY:
            elements.append(text(WIDTH - 20, y + 4, f"noisy: other processes used up to "
                                 f"{s.other:.2f} cores during a run", size=11, anchor="end",
                                 fill="#c92a2a"))
        y += 10
        websocket = [v for k, v in s.rate.items() if k not in table.REFERENCE]
        top = max(websocket or s.rate.values() or [0]) or 1
        for server in servers:
            if server in s.failed:
                bar(y, server, None, "failed", elements)
            elif server in s.rate:
                label = rate_label(s.rate[server], s.key)
                if s.ns.get(server) is not None:
                    label += f"  ·  {table.fmt_ns(s.ns[server])} ns CPU/msg"
                bar(y, server, s.rate[server] / top, label, elements)
            else:
                continue
            y += BAR_H + BAR_GAP

    idle = results.get(("idle", 16, 0))
    if idle:
        y += 30
        figures = {}
        conns = None
        for server in servers:
            good = [r for r in idle.get(server, []) if not r.get("error")]
            if good:
                figures[server] = table.median_of(good, "bytes_per_conn") / 1024
                conns = good[0]["conns"]
            elif server in idle:
                figures[server] = None
        elements.append(text(20, y, "Server memory per idle connection (shorter is better)",
                             size=15, weight="bold"))
        y += 16
        elements.append(text(20, y, f"RSS growth over {conns:,} open connections that have each "
                             "echoed one message, divided by their number; KiB.", size=12,
                             fill="#495057"))
        y += 10
        top = max((v for v in figures.values() if v is not None), default=0) or 1
        for server, value in figures.items():
            if value is None:
                bar(y, server, None, "failed", elements)
            else:
                bar(y, server, max(value, 0) / top, f"{value:,.1f} KiB", elements)
            y += BAR_H + BAR_GAP

    if footnote:
        y += 26
        elements.append(text(20, y, footnote, size=11, fill="#495057"))
    height = y + 20
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height:.0f}' "
           f"viewBox='0 0 {WIDTH} {height:.0f}'>",
           f"<rect width='{WIDTH}' height='{height:.0f}' fill='white'/>"]
    svg += elements
    svg.append("</svg>")
    with open(target, "w") as file:
        file.write("\n".join(svg) + "\n")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
