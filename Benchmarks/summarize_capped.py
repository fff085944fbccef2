#!/usr/bin/env python3
"""Summarize run-capped.sh: a Markdown report and an SVG chart (standard library only).

    summarize_capped.py RESULTS.jsonl OUT.md OUT.svg

Medians over the runs of each (program, cap). The chart draws throughput (thousand input
lines per second) against the memory cap, one line per program."""
import json
import statistics
import sys
from xml.sax.saxutils import escape

PROGRAMS = [  # label in the results -> (legend, colour)
    ("lookup run -j 2", "lookup run -j 2", "#d62728"),
    ("C liblmdb NORDAHEAD", "C liblmdb, MDB_NORDAHEAD, 2 workers", "#1f77b4"),
    ("py-lmdb readahead=False", "py-lmdb readahead=False, pool of 2", "#2ca02c"),
    ("DuckDB memory_limit", "DuckDB, memory_limit 60% of the cap, 2 threads", "#9467bd"),
]


def cap_name(cap):
    return "none" if cap == 0 else f"{cap} GiB"


def main(results, md_path, svg_path):
    rows = [json.loads(line) for line in open(results) if line.strip()]
    runs = {}
    for r in rows:
        if "wall" in r:
            runs.setdefault((r["what"], r["cap_gib"]), []).append(r)
    fio = {r["depth"]: r["iops"] for r in rows if r.get("what") == "fio"}
    same = [r for r in rows if r.get("what") == "same output"]
    lines = next((r["lines"] for r in rows if "lines" in r), 0)
    keys = next((r["keys"] for r in rows if "keys" in r), 0)
    host = next((r["host"] for r in rows if "host" in r), "")

    def med(what, cap, field="wall"):
        ok = [r[field] for r in runs.get((what, cap), []) if r["status"] == 0]
        return statistics.median(ok) if ok else None

    def failed(what, cap):
        bad = [r for r in runs.get((what, cap), []) if r["status"] != 0]
        return f"exit {bad[0]['status']}" if bad else "-"

    caps = sorted({c for (_, c) in runs if c != 0}) + ([0] if any(c == 0 for (_, c) in runs) else [])
    out = [f"# Tables larger than memory ({keys:,} keys, {lines:,} input lines, {host})", "",
           "Each run cold (page cache dropped) in a fresh memory cgroup with the cap; medians of "
           f"{max((len(v) for v in runs.values()), default=0)} run(s). `Benchmarks/run-capped.sh` makes it.", ""]
    if fio:
        out += [f"Disk, fio 4 KiB random reads (O_DIRECT): {fio.get(1, 0):,} IOPS at queue depth 1, "
                f"{fio.get(32, 0):,} at depth 32.", ""]
    out += ["| cap | program | wall s | lines/s | peak MiB | refaults | vs C |", "|---|---|---|---|---|---|---|"]
    for cap in caps:
        c = med("C liblmdb NORDAHEAD", cap)
        for what, _, _ in PROGRAMS:
            w = med(what, cap)
            if w is None and (what, cap) not in runs:
                continue
            peak = med(what, cap, "peak")
            ref = med(what, cap, "refaults")
            out.append(f"| {cap_name(cap)} | {what} | {w:.2f} | {lines / w:,.0f} | {peak / 1048576:,.0f} | {ref:,.0f} | "
                       f"{w / c:.2f}x |" if w is not None and c else
                       f"| {cap_name(cap)} | {what} | {failed(what, cap) if w is None else f'{w:.2f}'} | | | | |")
    warm = [(w, med(w, 0)) for w in ("lookup run -j 2 (warm)", "C liblmdb NORDAHEAD (warm)") if med(w, 0)]
    if warm:
        out += ["", "Warm (uncapped, cache kept from the run before):", ""]
        out += [f"- {w}: {t:.2f} s" for w, t in warm]
        if len(warm) == 2:
            out.append(f"- lookup / C: {warm[0][1] / warm[1][1]:.2f}x")
    build = [(cap, med("lookup build", cap)) for cap in (0, 1) if med("lookup build", cap)]
    if build:
        out += ["", "Build of the table (`lookup build`, default --memory: 1G, or half the cap):", ""]
        out += [f"- {cap_name(cap)} cap: {t:.2f} s" for cap, t in build]
    targets = []
    lk, c = med("lookup run -j 2", 1), med("C liblmdb NORDAHEAD", 1)
    if lk and c:
        targets.append(f"- 1 GiB cap, lookup / C: {lk / c:.2f}x (target <= 0.33x)")
        if fio.get(32):
            hits = lines / 2
            targets.append(f"- 1 GiB cap, lookup's hits per second / fio IOPS at depth 32: "
                           f"{hits / lk:,.0f} / {fio[32]:,} = {hits / lk / fio[32]:.2f} (target >= 0.6; "
                           "hits: about half the lines, as gen.py makes them)")
    if targets:
        out += ["", "Targets:", ""] + targets
    if same:
        bad = [s for s in same if not s["same"]]
        out += ["", "Outputs: " + ("every program's output equals lookup's." if not bad else
                                   "DIFFER: " + ", ".join(f"{s['program']} at {cap_name(s['cap_gib'])}" for s in bad))]
    open(md_path, "w").write("\n".join(out) + "\n")
    chart(svg_path, caps, runs, med, lines)


def chart(path, caps, runs, med, lines):
    w, h, left, right, top, bottom = 640, 360, 70, 20, 40, 110
    xs = {cap: left + (i + 0.5) * (w - left - right) / max(len(caps), 1) for i, cap in enumerate(caps)}
    series = []
    for what, legend, colour in PROGRAMS:
        pts = [(cap, lines / med(what, cap) / 1000) for cap in caps if med(what, cap)]
        if pts:
            series.append((legend, colour, pts))
    top_value = max([v for _, _, pts in series for _, v in pts] + [1])
    step = 10 ** (len(str(int(top_value))) - 1)
    ymax = (int(top_value / step) + 1) * step

    def y(v):
        return top + (h - top - bottom) * (1 - v / ymax)

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">Batch join throughput against the memory cap (cold)</text>']
    for i in range(5):
        v = ymax * i / 4
        svg.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - right}" y2="{y(v):.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    svg.append(f'<text x="16" y="{(top + h - bottom) / 2}" transform="rotate(-90 16 {(top + h - bottom) / 2})" '
               'text-anchor="middle">thousand lines/s</text>')
    for cap, x in xs.items():
        svg.append(f'<text x="{x:.1f}" y="{h - bottom + 18}" text-anchor="middle">{escape(cap_name(cap))}</text>')
    svg.append(f'<text x="{(left + w - right) / 2}" y="{h - bottom + 36}" text-anchor="middle">memory cap</text>')
    for i, (legend, colour, pts) in enumerate(series):
        d = " ".join(f"{xs[c]:.1f},{y(v):.1f}" for c, v in pts)
        svg.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for c, v in pts:
            svg.append(f'<circle cx="{xs[c]:.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        ly = h - bottom + 52 + i * 15
        svg.append(f'<line x1="{left}" y1="{ly - 4}" x2="{left + 20}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        svg.append(f'<text x="{left + 26}" y="{ly}">{escape(legend)}</text>')
    svg.append("</svg>")
    open(path, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
