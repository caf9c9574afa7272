#!/usr/bin/env python3
"""Summarises bench/compare.sh results: medians per broker, ratio Ferrocore/Mosquitto, targets.

Usage: report.py RESULTS.jsonl [--md OUT.md] [--svg OUT.svg] [--note TEXT]

Prints a Markdown table on stdout (and into --md) and draws the ratios as an SVG bar chart on
a logarithmic axis (--svg). Uses only the standard library.
"""

import argparse
import json
import math
import statistics
import sys
from html import escape

# (label, case, metric, higher is better, target ratio ferrocore/mosquitto, unit)
ROWS = [
    ("p2p QoS 0, 16 pairs", "p2p-qos0", "msgs_per_sec", True, 5.0, "msg/s"),
    ("p2p QoS 1, 16 pairs", "p2p-qos1", "msgs_per_sec", True, 8.0, "msg/s"),
    ("fan-in 64->1 QoS 0", "fanin-qos0", "msgs_per_sec", True, 4.0, "msg/s"),
    ("fan-out 1->64 QoS 0", "fanout-qos0", "msgs_per_sec", True, 25.0, "deliveries/s"),
    ("latency p99 at 10k msg/s", "latency", "p99_us", False, 0.5, "us"),
    ("memory per idle connection", "conns", "rss_per_conn_bytes", False, 1.0, "bytes"),
    ("connect rate", "conns", "conns_per_sec", True, 1.5, "conn/s"),
    # No target: Ferrocore stores every acknowledged message durably (fsync per group commit),
    # Mosquitto runs with `persistence false` and keeps them in memory.
    ("QoS 1 to 16 offline persistent sessions", "persistent", "publish_rate", True, None, "msg/s"),
    ("drain on reconnect", "persistent", "drain_rate", True, None, "msg/s"),
]

# Secondary columns: losses and CPU per message, medians too.
EXTRA = ["loss_pct", "broker_cpu_us_per_msg"]


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    runs.append(json.loads(line))
                except json.JSONDecodeError as e:
                    print(f"report.py: skipping bad line: {e}", file=sys.stderr)
    return runs


def median(runs, case, broker, metric):
    values = [
        r[metric]
        for r in runs
        if r.get("case") == case
        and r.get("broker") == broker
        and isinstance(r.get(metric), (int, float))
    ]
    return (statistics.median(values), len(values)) if values else (None, 0)


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def summarise(runs):
    rows = []
    for label, case, metric, higher, target, unit in ROWS:
        fc, n_fc = median(runs, case, "ferrocore", metric)
        mq, n_mq = median(runs, case, "mosquitto", metric)
        ratio = fc / mq if fc is not None and mq not in (None, 0) else None
        met = None
        if ratio is not None and target is not None:
            met = ratio >= target if higher else ratio <= target
        extras = {}
        for key in EXTRA:
            extras[key] = (median(runs, case, "ferrocore", key)[0], median(runs, case, "mosquitto", key)[0])
        failed = sum(
            1 for r in runs if r.get("case") == case and r.get("status") != "ok"
        )
        rows.append(dict(label=label, case=case, metric=metric, higher=higher, target=target,
                         unit=unit, fc=fc, mq=mq, ratio=ratio, met=met, n=min(n_fc, n_mq),
                         extras=extras, failed=failed))
    return rows


# (label, (case, metric), (case, metric), target or None): Ferrocore's figure over another of
# its own.
SELF_ROWS = [
    ("durable QoS 1 publish to 16 offline persistent sessions, 9,000 each / in-memory QoS 1 p2p",
     ("persistent-sustained", "publish_rate"), ("p2p-qos1", "msgs_per_sec"), 0.5),
    ("the same with 500 each (the side-by-side case, a burst of a few tens of ms)",
     ("persistent", "publish_rate"), ("p2p-qos1", "msgs_per_sec"), None),
]


def self_ratios(runs):
    rows = []
    for label, (case_a, metric_a), (case_b, metric_b), target in SELF_ROWS:
        a, _ = median(runs, case_a, "ferrocore", metric_a)
        b, _ = median(runs, case_b, "ferrocore", metric_b)
        ratio = a / b if a is not None and b not in (None, 0) else None
        met = None if ratio is None or target is None else ratio >= target
        rows.append(dict(label=label, a=a, b=b, ratio=ratio, target=target, met=met))
    return rows


# (label, case, metric, the reference's broker label, the target of Ferrocore/Mosquitto):
# what a server that does nothing else reaches with the same generator on the same machine.
REFERENCES = [
    ("connect floor: accept, read CONNECT, answer CONNACK, nothing else", "conns",
     "conns_per_sec", "floor", 1.5),
]


def references(runs):
    rows = []
    for label, case, metric, broker, target in REFERENCES:
        ref, n = median(runs, case, broker, metric)
        if n == 0:
            continue
        fc, _ = median(runs, case, "ferrocore", metric)
        mq, _ = median(runs, case, "mosquitto", metric)
        over_mq = ref / mq if mq else None
        fc_share = fc / ref if fc is not None and ref else None
        rows.append(dict(label=label, metric=metric, ref=ref, mq=mq, fc=fc, n=n,
                         over_mq=over_mq, fc_share=fc_share, target=target))
    return rows


def markdown(rows, note, own=(), refs=()):
    out = []
    if note:
        out.append(f"_{note}_\n")
    out.append("| case | metric | Ferrocore (median) | Mosquitto (median) | ratio F/M | better | target | met | runs |")
    out.append("| --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: |")
    for r in rows:
        better = "higher" if r["higher"] else "lower"
        target = "-" if r["target"] is None else (">= " if r["higher"] else "<= ") + f"{r['target']:g}"
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        out.append(f"| {r['label']} | {r['metric']} ({r['unit']}) | {fmt(r['fc'])} | {fmt(r['mq'])} "
                   f"| {ratio} | {better} | {target} | {met} | {r['n']} |")
    out.append("")
    out.append("| case | loss % Ferrocore | loss % Mosquitto | broker CPU us/msg Ferrocore | broker CPU us/msg Mosquitto | failed runs |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    seen = set()
    for r in rows:
        if r["case"] in seen:
            continue
        seen.add(r["case"])
        loss = r["extras"]["loss_pct"]
        cpu = r["extras"]["broker_cpu_us_per_msg"]
        out.append(f"| {r['case']} | {fmt(loss[0])} | {fmt(loss[1])} | {fmt(cpu[0])} | {fmt(cpu[1])} | {r['failed']} |")
    if refs:
        out.append("")
        out.append("| reference | metric | reference (median) | Mosquitto (median) | reference / Mosquitto "
                   "| target F/M | Ferrocore / reference | runs |")
        out.append("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
        for r in refs:
            over = "-" if r["over_mq"] is None else f"{r['over_mq']:.2f}"
            share = "-" if r["fc_share"] is None else f"{r['fc_share']:.2f}"
            out.append(f"| {r['label']} | {r['metric']} | {fmt(r['ref'])} | {fmt(r['mq'])} | {over} "
                       f"| >= {r['target']:g} | {share} | {r['n']} |")
    if own:
        out.append("")
        out.append("| Ferrocore against itself | figure | over | ratio | target | met |")
        out.append("| --- | ---: | ---: | ---: | --- | --- |")
        for r in own:
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
            met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
            target = "-" if r["target"] is None else f">= {r['target']:g}"
            out.append(f"| {r['label']} | {fmt(r['a'])} | {fmt(r['b'])} | {ratio} "
                       f"| {target} | {met} |")
    return "\n".join(out) + "\n"


def svg(rows, note):
    width, left, right, top, row_h = 900, 250, 90, 60, 44
    height = top + row_h * len(rows) + 60
    lo, hi = 0.1, 100.0
    span = math.log10(hi) - math.log10(lo)

    def x(v):
        v = min(max(v, lo), hi)
        return left + (math.log10(v) - math.log10(lo)) / span * (width - left - right)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
        f"Ferrocore / Mosquitto (median ratio, log scale)</text>",
        f'<text x="{width / 2}" y="44" text-anchor="middle" fill="#555">{escape(note or "")}</text>',
    ]
    axis_y = top + row_h * len(rows)
    for tick in [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]:
        tx = x(tick)
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{axis_y}" '
                     f'stroke="{"#333" if tick == 1 else "#ddd"}" stroke-width="{2 if tick == 1 else 1}"/>')
        parts.append(f'<text x="{tx:.1f}" y="{axis_y + 18}" text-anchor="middle" fill="#333">{tick:g}x</text>')
    for i, r in enumerate(rows):
        y = top + i * row_h
        arrow = "higher is better" if r["higher"] else "lower is better"
        parts.append(f'<text x="{left - 10}" y="{y + 18}" text-anchor="end">{escape(r["label"])}</text>')
        parts.append(f'<text x="{left - 10}" y="{y + 33}" text-anchor="end" fill="#777" font-size="11">{arrow}</text>')
        if r["ratio"] is not None:
            x0, x1 = x(1), x(r["ratio"])
            colour = {True: "#2e8b57", False: "#c0392b", None: "#7f8c8d"}[r["met"]]
            parts.append(f'<rect x="{min(x0, x1):.1f}" y="{y + 8}" width="{max(abs(x1 - x0), 1):.1f}" '
                         f'height="{row_h - 18}" fill="{colour}" opacity="0.85"/>')
            parts.append(f'<text x="{max(x0, x1) + 6:.1f}" y="{y + 27}" fill="#111">{r["ratio"]:.2f}x</text>')
        else:
            parts.append(f'<text x="{x(1) + 6:.1f}" y="{y + 27}" fill="#c0392b">no data</text>')
        if r["target"] is not None:
            tx = x(r["target"])
            parts.append(f'<line x1="{tx:.1f}" y1="{y + 4}" x2="{tx:.1f}" y2="{y + row_h - 6}" '
                         f'stroke="#1f3a93" stroke-width="3" stroke-dasharray="4,3"/>')
    parts.append(f'<text x="{left}" y="{height - 14}" fill="#555" font-size="12">'
                 f"bars: ratio Ferrocore/Mosquitto (green: target met, red: not met, grey: no target); "
                 f"dashed blue: target</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results")
    ap.add_argument("--md")
    ap.add_argument("--svg")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    runs = load(args.results)
    rows = summarise(runs)
    table = markdown(rows, args.note, self_ratios(runs), references(runs))
    print(table)
    if args.md:
        with open(args.md, "w") as f:
            f.write(table)
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg(rows, args.note))


if __name__ == "__main__":
    main()
