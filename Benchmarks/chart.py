#!/usr/bin/env python3
"""Draw the batch-join results as an SVG (standard library only): for each table size one
row of two panels against the number of workers, throughput (M lines/s) and peak summed PSS
of the process tree (MiB), one line per program; the memory panel also draws the PSS target
(1.15 x the table file + 32 MiB per worker) as a dashed line.

    chart.py OUT.svg BATCH-JOIN.json...     (run-all.sh calls it through summarize_all.py)
"""
import json
import sys
from xml.sax.saxutils import escape

# program label -> (legend text, colour); rows of other labels are not drawn
PROGRAMS = {
    "lookup join": ("lookup run", "#d62728"),
    "join_c_lmdb": ("C liblmdb", "#1f77b4"),
    "join_py_lmdb": ("py-lmdb pool", "#2ca02c"),
    "join_py_dict": ("Python dict, fork pool", "#9467bd"),
    "mawk": ("mawk (1 process)", "#8c564b"),
}
PANEL_W, PANEL_H = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 45
LEGEND_H = 30


def nice_max(v):
    """A round upper bound for an axis from 0 to at least v."""
    if v <= 0:
        return 1.0
    step = 10 ** (len(str(int(v))) - 1) if v >= 1 else 0.1
    while step * 10 < v:
        step *= 10
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * step >= v:
            return m * step
    return 10 * step


def panel(x0, y0, title, series, workers, ymax, yfmt, extra=None):
    """SVG elements of one panel at (x0, y0): series is [(label, colour, [(w, y)])]."""
    out = []
    w_in, h_in = PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM
    ox, oy = x0 + LEFT, y0 + TOP + h_in
    lo, hi = min(workers), max(workers)

    def px(w):
        return ox + (w_in / 2 if hi == lo else (w - lo) * w_in / (hi - lo))

    def py(v):
        return oy - v / ymax * h_in

    out.append('<text x="%g" y="%g" font-size="13" font-weight="bold">%s</text>' % (ox, y0 + 22, escape(title)))
    for i in range(6):
        v = ymax * i / 5
        out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>' % (ox, py(v), ox + w_in, py(v)))
        out.append('<text x="%g" y="%g" font-size="11" text-anchor="end">%s</text>' % (ox - 5, py(v) + 4, yfmt % v))
    for w in workers:
        out.append('<text x="%g" y="%g" font-size="11" text-anchor="middle">%d</text>' % (px(w), oy + 15, w))
    out.append('<text x="%g" y="%g" font-size="11" text-anchor="middle">workers</text>' % (ox + w_in / 2, oy + 32))
    out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#000"/>' % (ox, oy, ox + w_in, oy))
    out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#000"/>' % (ox, oy, ox, oy - h_in))
    if extra:
        pts = " ".join("%g,%g" % (px(w), py(v)) for w, v in extra)
        out.append('<polyline points="%s" fill="none" stroke="#555" stroke-dasharray="5,4"/>' % pts)
    for _, colour, points in series:
        if len(points) > 1:
            pts = " ".join("%g,%g" % (px(w), py(v)) for w, v in points)
            out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>' % (pts, colour))
        for w, v in points:
            out.append('<circle cx="%g" cy="%g" r="3.5" fill="%s"/>' % (px(w), py(v), colour))
    return out


def chart(results, path):
    """Write the SVG for a list of batch-join results (the .json written by summarize_batch.py)."""
    height = LEGEND_H + PANEL_H * len(results)
    width = 2 * PANEL_W
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>']
    x = 10
    for label, (text, colour) in PROGRAMS.items():
        svg.append('<rect x="%d" y="10" width="14" height="4" fill="%s"/>' % (x, colour))
        svg.append('<text x="%d" y="17" font-size="11">%s</text>' % (x + 18, escape(text)))
        x += 30 + 6.5 * len(text)
    svg.append('<text x="%d" y="17" font-size="11">- - PSS target</text>' % x)
    for i, res in enumerate(results):
        p = res["parameters"]
        rows = [r for r in res["results"] if r["label"] in PROGRAMS]
        workers = sorted({r["workers"] for r in rows})
        series_t, series_m = [], []
        for label, (text, colour) in PROGRAMS.items():
            pts = sorted((r["workers"], r) for r in rows if r["label"] == label)
            if pts:
                series_t.append((text, colour, [(w, r["lines_per_s"]["median"] / 1e6) for w, r in pts]))
                series_m.append((text, colour, [(w, r["peak_pss_mib"]["median"]) for w, r in pts]))
        target = [(w, 1.15 * p["table_lmdb_bytes"] / 2**20 + 32 * w) for w in workers]
        tmax = nice_max(max((v for _, _, pts in series_t for _, v in pts), default=1) * 1.05)
        mmax = nice_max(max([v for _, _, pts in series_m for _, v in pts] + [v for _, v in target]) * 1.05)
        y0 = LEGEND_H + i * PANEL_H
        size = "%s keys" % format(p["keys"], ",")
        svg += panel(0, y0, "%s: throughput, M lines/s" % size, series_t, workers, tmax, "%.2f")
        svg += panel(PANEL_W, y0, "%s: peak summed PSS, MiB" % size, series_m, workers, mmax, "%.0f", target)
    svg.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: chart.py OUT.svg BATCH-JOIN.json...")
    results = []
    for name in sys.argv[2:]:
        with open(name) as f:
            results.append(json.load(f))
    chart(results, sys.argv[1])


if __name__ == "__main__":
    main()
