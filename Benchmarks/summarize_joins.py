#!/usr/bin/env python3
"""Turn run-joins.sh's measurements (one JSON line per measured command) into OUT.jsonl and
OUT.md, and print the Markdown. Called by run-joins.sh; summarize_all.py reads the targets
back from OUT.jsonl (joins_targets, from jobs_summary).

OUT.jsonl, one JSON object a line, its kind in "record":
  parameters   the workload, the machine, the versions, the command (first line)
  measurement  every measured command, as measure.py printed it, with job, phase
               (build: the table made once; join: the measured job), run, workers
  summary      per job and program: medians over the runs (wall s, peak PSS/RSS, CPU s)
  target       per job and peer: lookup's median divided by the peer's, wall time and peak
               PSS, the limit (0.5) and whether it is met
"""
import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jobs_summary  # noqa: E402
from jobs_summary import md_table, summarize  # noqa: E402

joins_targets = jobs_summary.targets

JOB_NAMES = {"many": "one-to-many join", "comp": "composite-key join"}
LIMIT = 0.5
PEERS = ("DuckDB", "Polars")
COMMANDS = {
    ("many", "lookup run"): "`lookup run many.lmdb many-input -o out -j {w} --mode join -q`",
    ("comp", "lookup run"): "`lookup run comp.lmdb comp-input -k 1,2 -o out -j {w} --mode join -q`",
    ("many", "lookup build"): "`lookup build many.csv --duplicates all -o many.lmdb`",
    ("comp", "lookup build"): "`lookup build comp.csv -k 1,2 -o comp.lmdb`",
    ("*", "DuckDB"): "`joins_duckdb.py join {job} {job}.duckdb {job}-input out {w}`",
    ("*", "Polars"): "`joins_polars.py join {job} {job}.arrow {job}-input out {w}`",
    ("*", "DuckDB load"): "`joins_duckdb.py load {job} {job}.csv {job}.duckdb`",
    ("*", "Polars load"): "`joins_polars.py load {job} {job}.csv {job}.arrow`",
}






def main():
    ap = argparse.ArgumentParser()
    for name in ("raw", "out", "expected", "invocation", "jobs", "sizes", "load-before", "load-after", "git",
                 "swift-version", "python-version"):
        ap.add_argument("--" + name, default="")
    for name in ("keys", "files", "lines", "runs", "workers", "seed", "sorted", "with-lookup", "git-dirty"):
        ap.add_argument("--" + name, type=int, default=0)
    a = ap.parse_args()

    with open(a.raw) as f:
        measurements = [json.loads(line) for line in f if line.strip()]
    with open(a.expected) as f:
        expected = json.load(f)
    sizes = dict(s.split("=", 1) for s in a.sizes.split())
    jobs = a.jobs.split()
    w = a.workers
    import duckdb
    import polars
    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    machine = jobs_summary.machine(a.load_before, a.load_after)
    params = {
        "record": "parameters", "benchmark": "joins", "date": now.isoformat(timespec="seconds"),
        "command": a.invocation, "table_rows": a.keys, "files": a.files, "lines_per_file": a.lines,
        "total_lines": a.files * a.lines, "runs": a.runs, "workers": w, "jobs": jobs, "seed": a.seed,
        "lookup_measured": bool(a.with_lookup), "sorted_compare": bool(a.sorted),
        "expected": expected, "bytes": {k: int(v) for k, v in sizes.items()}, "machine": machine,
        "versions": {"git": a.git, "git_dirty_files": a.git_dirty, "swift": a.swift_version,
                     "python": a.python_version, "duckdb": duckdb.__version__, "polars": polars.__version__},
    }

    summaries, targets = [], []
    for job in jobs:
        mine = [m for m in measurements if m["job"] == job]
        for phase in ("build", "join"):
            for label in dict.fromkeys(m["label"] for m in mine if m["phase"] == phase):
                rows = [m for m in mine if m["phase"] == phase and m["label"] == label]
                summaries.append(dict(record="summary", job=job, phase=phase, label=label, workers=w,
                                      command=jobs_summary.command(COMMANDS, job, label, w), **summarize(rows)))
        ours = next((s for s in summaries if s["job"] == job and s["phase"] == "join" and s["label"] == "lookup run"), None)
        for peer in PEERS:
            theirs = next((s for s in summaries if s["job"] == job and s["phase"] == "join" and s["label"] == peer), None)
            if not ours or not theirs:
                continue
            for what, key, unit in (("wall time", "wall_s", "s"), ("peak PSS", "peak_pss_mib", "MiB")):
                r = ours[key]["median"] / theirs[key]["median"]
                targets.append({
                    "record": "target", "job": job, "peer": peer, "figure": key,
                    "target": "%s (`lookup run -j %d`) %s <= %.1fx %s (%d threads)" % (
                        JOB_NAMES[job], w, what, LIMIT, peer, w),
                    "ratio": round(r, 3),
                    "measured": "%.2fx (%.*f %s vs %.*f %s)" % (r, 2 if unit == "s" else 0, ours[key]["median"], unit,
                                                             2 if unit == "s" else 0, theirs[key]["median"], unit),
                    "limit": "%.2fx" % LIMIT, "met": r <= LIMIT})

    with open(a.out + ".jsonl", "w") as f:
        for rec in [params] + measurements + summaries + targets:
            f.write(json.dumps(rec) + "\n")

    # ---- Markdown
    mib = lambda name: int(sizes[name]) / 2**20 if name in sizes else float("nan")  # noqa: E731
    md = jobs_summary.report_header("# Join kinds: one-to-many and composite keys, `lookup run` vs DuckDB and Polars", a, now, machine, "DuckDB %s, Polars %s" % (duckdb.__version__, polars.__version__)) + [
        "",
        "Workload (`gen_joins.py`, seed %d): each table %s rows; %d input files x %s lines per job, "
        "about half of the lines hits. Every program runs with %d workers or threads, page cache warm, "
        "each table made once beforehand (timed apart, below). Figures are medians of %d runs, "
        "interleaved (per run: lookup, DuckDB, Polars, one job after the other). Peak PSS is the "
        "summed PSS of the whole process tree (`measure.py`), mapped table pages included. Every output "
        "was checked %s, with the expected number of lines." % (
            a.seed, format(a.keys, ","), a.files, format(a.lines, ","), w, a.runs,
            ("identical to lookup's" if a.with_lookup else "identical to DuckDB's (lookup not measured)")
            + (" (as sorted lines)" if a.sorted else "")),
        "",
    ]
    if not a.with_lookup:
        md += ["**`lookup` was not measured (`--no-lookup`): no targets.**", ""]
    for job in jobs:
        e = expected[job]
        shape = ("%s distinct keys, 1 to 5 rows each" % format(e["distinct_keys"], ",") if job == "many"
                 else "%s customers x 1 to 7 months, pairs unique" % format(e["customers"], ","))
        md += ["## %s (`%s`)" % (JOB_NAMES[job][0].upper() + JOB_NAMES[job][1:], job), "",
               "Table `%s.csv`: %s rows, %s (%.0f MiB; %s). Input: %s lines (%.0f MiB), %s hits, %s output lines." % (
                   job, format(e["table_rows"], ","), shape, mib(job + ".csv"),
                   ", ".join("`%s` %.0f MiB" % (name, mib(name)) for name in
                             (job + ".lmdb", job + ".duckdb", job + ".arrow") if name in sizes),
                   format(e["lines"], ","), mib(job + "-input"), format(e["hit_lines"], ","),
                   format(e["output_lines"], ",")), ""]
        rows = []
        ours = next((s for s in summaries if s["job"] == job and s["phase"] == "join" and s["label"] == "lookup run"), None)
        for s in (s for s in summaries if s["job"] == job and s["phase"] == "join"):
            ratio = lambda key: ("%.2f" % (ours[key]["median"] / s[key]["median"]) if ours else "–")  # noqa: E731
            rows.append([s["label"], s["command"], "%.2f" % s["wall_s"]["median"], "%.2f" % s["wall_s"]["min"],
                         "%.2f" % s["wall_s"]["max"], "%.2f" % (e["lines"] / s["wall_s"]["median"] / 1e6),
                         "%.0f" % s["peak_pss_mib"]["median"], "%.0f" % s["peak_rss_mib"]["median"],
                         "%.1f" % s["cpu_s"]["median"], ratio("wall_s"), ratio("peak_pss_mib")])
        md += md_table(["program", "command", "median wall s", "min", "max", "M input lines/s", "peak PSS MiB",
                        "peak RSS MiB", "CPU s", "lookup / this, wall", "lookup / this, PSS"], rows) + [""]
        md += ["Peak PSS split (medians, MiB): " + "; ".join(
            "%s %.0f anonymous + %.0f file, %d processes" % (
                s["label"], s["peak_pss_anon_mib"]["median"], s["peak_pss_file_mib"]["median"], s["procs"])
            for s in summaries if s["job"] == job and s["phase"] == "join") + ".", ""]
        md += ["Tables, made once (one run, not compared): " + "; ".join(
            "%s %s: %.2f s, peak PSS %.0f MiB" % (s["label"], s["command"], s["wall_s"]["median"], s["peak_pss_mib"]["median"])
            for s in summaries if s["job"] == job and s["phase"] == "build") + ".", ""]
    if targets:
        md += ["## Targets", "",
               "lookup's median divided by the peer's (wall time; peak summed PSS), same workers/threads:", ""]
        md += md_table(["target", "measured", "limit", "met"],
                       [[t["target"], t["measured"], t["limit"], "met" if t["met"] else "**NOT met**"] for t in targets])
        md += [""]
    md += ["Every measurement, the machine and the versions: `%s.jsonl`." % os.path.basename(a.out), ""]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))
    print("wrote %s.md and %s.jsonl" % (a.out, a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
