#!/usr/bin/env python3
"""Turn run-ranges.sh's measurements (one JSON line per measured command) into OUT.jsonl and
OUT.md, and print the Markdown. Called by run-ranges.sh; summarize_all.py reads the targets
back from OUT.jsonl (ranges_targets, from jobs_summary).

OUT.jsonl, one JSON object a line, its kind in "record":
  parameters   the workload, the machine, the versions, the command (first line)
  measurement  every measured command, as measure.py printed it, with job (ranges, cidr, w1),
               phase (build: the table made once; join: the measured job), run, workers
  summary      per job and program: medians over the runs (wall s, lines/s, peak PSS/RSS, CPU s)
  target       per range job: lookup's lines/s over W1's (>= 0.5), and each peer's wall time
               over lookup's (>= 3, i.e. lookup at most 1/3 of the peer's), met or not
"""
import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jobs_summary  # noqa: E402
from jobs_summary import md_table, summarize  # noqa: E402

ranges_targets = jobs_summary.targets

JOB_NAMES = {"ranges": "IPv4 range join", "cidr": "CIDR-block join", "w1": "W1 exact-match join"}
W1_LIMIT = 0.5       # range join lines/s >= 0.5x W1's
PEER_LIMIT = 3.0     # peer wall / lookup wall >= 3
PEERS = ("DuckDB", "maxminddb")
COMMANDS = {
    ("ranges", "lookup build"): "`lookup build ranges.csv --ranges --key-type ip -o ranges.lmdb`",
    ("cidr", "lookup build"): "`lookup build cidr.csv --cidr -o cidr.lmdb`",
    ("w1", "lookup build"): "`lookup build w1.csv -o w1.lmdb`",
    ("*", "lookup run"): "`lookup run {job}.lmdb {job}-input -o out -j {w} --mode join -q`",
    ("*", "DuckDB"): "`ranges_duckdb.py join {job} {job}.duckdb {job}-input out {w}`",
    ("*", "maxminddb"): "`ranges_maxmind.py join {job} {job}.mmdb {job}-input out {w}`",
    ("*", "DuckDB load"): "`ranges_duckdb.py load {job} {job}.csv {job}.duckdb`",
    ("*", "maxminddb load"): "`ranges_maxmind.py load {job} {job}.csv {job}.mmdb`",
}






def main():
    ap = argparse.ArgumentParser()
    for name in ("raw", "out", "expected", "invocation", "jobs", "sizes", "load-before", "load-after", "git",
                 "swift-version", "python-version"):
        ap.add_argument("--" + name, default="")
    for name in ("rows", "files", "lines", "runs", "workers", "seed", "w1-keys", "with-lookup", "git-dirty"):
        ap.add_argument("--" + name, type=int, default=0)
    a = ap.parse_args()

    with open(a.raw) as f:
        measurements = [json.loads(line) for line in f if line.strip()]
    with open(a.expected) as f:
        expected = json.load(f)
    sizes = dict(s.split("=", 1) for s in a.sizes.split())
    jobs = a.jobs.split()
    w = a.workers
    total_lines = a.files * a.lines
    import duckdb
    import maxminddb
    try:
        import maxminddb.extension  # noqa: F401
        mm_ext = True
    except ImportError:
        mm_ext = False
    from importlib.metadata import version
    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    machine = jobs_summary.machine(a.load_before, a.load_after)
    versions = {"git": a.git, "git_dirty_files": a.git_dirty, "swift": a.swift_version,
                "python": a.python_version, "duckdb": duckdb.__version__, "maxminddb": maxminddb.__version__,
                "maxminddb_c_extension": mm_ext, "mmdb_writer": version("mmdb-writer")}
    params = {
        "record": "parameters", "benchmark": "ranges", "date": now.isoformat(timespec="seconds"),
        "command": a.invocation, "table_rows": a.rows, "files": a.files, "lines_per_file": a.lines,
        "total_lines": total_lines, "runs": a.runs, "workers": w, "jobs": jobs, "seed": a.seed,
        "w1_keys": a.w1_keys, "lookup_measured": bool(a.with_lookup),
        "expected": expected, "bytes": {k: int(v) for k, v in sizes.items()}, "machine": machine,
        "versions": versions,
    }

    summaries, targets = [], []
    all_jobs = jobs + (["w1"] if a.w1_keys else [])
    for job in all_jobs:
        mine = [m for m in measurements if m["job"] == job]
        for phase in ("build", "join"):
            for label in dict.fromkeys(m["label"] for m in mine if m["phase"] == phase):
                rows = [m for m in mine if m["phase"] == phase and m["label"] == label]
                summaries.append(dict(record="summary", job=job, phase=phase, label=label, workers=w,
                                      command=jobs_summary.command(COMMANDS, job, label, w),
                                      **summarize(rows, total_lines if phase == "join" else 0)))

    def find(job, label):
        return next((s for s in summaries if s["job"] == job and s["phase"] == "join" and s["label"] == label), None)

    w1 = find("w1", "lookup run")
    for job in jobs:
        ours = find(job, "lookup run")
        if not ours:
            continue
        if w1:
            r = ours["lines_per_s"]["median"] / w1["lines_per_s"]["median"]
            targets.append({
                "record": "target", "job": job, "peer": "W1", "figure": "lines_per_s",
                "target": "%s (`lookup run -j %d`) lines/s >= %.1fx the W1 exact-match join's (%s-row table)" % (
                    JOB_NAMES[job], w, W1_LIMIT, format(a.w1_keys, ",")),
                "ratio": round(r, 3),
                "measured": "%.2fx (%.2f vs %.2f M lines/s)" % (r, ours["lines_per_s"]["median"] / 1e6,
                                                               w1["lines_per_s"]["median"] / 1e6),
                "limit": ">= %.2fx" % W1_LIMIT, "met": r >= W1_LIMIT})
        for peer in PEERS:
            theirs = find(job, peer)
            if not theirs:
                continue
            r = theirs["wall_s"]["median"] / ours["wall_s"]["median"]
            targets.append({
                "record": "target", "job": job, "peer": peer, "figure": "wall_s",
                "target": "%s (`lookup run -j %d`) at least %.0fx faster than %s (%d %s)" % (
                    JOB_NAMES[job], w, PEER_LIMIT, peer, w, "threads" if peer == "DuckDB" else "processes"),
                "ratio": round(r, 3),
                "measured": "%.2fx (%.2f s vs %.2f s)" % (r, ours["wall_s"]["median"], theirs["wall_s"]["median"]),
                "limit": ">= %.2fx" % PEER_LIMIT, "met": r >= PEER_LIMIT})

    with open(a.out + ".jsonl", "w") as f:
        for rec in [params] + measurements + summaries + targets:
            f.write(json.dumps(rec) + "\n")

    # ---- Markdown
    mib = lambda name: int(sizes[name]) / 2**20 if name in sizes else float("nan")  # noqa: E731
    md = jobs_summary.report_header("# Range lookups: `lookup run` on IPv4 ranges vs DuckDB, maxminddb and the W1 exact join", a, now, machine, "DuckDB %s, maxminddb %s (%s), mmdb-writer %s" % (duckdb.__version__, maxminddb.__version__, "C extension" if mm_ext else "pure Python, no C extension", versions["mmdb_writer"])) + [
        "",
        "Workload (`gen_ranges.py`, seed %d): each table %s rows; %d input files x %s lines per job, "
        "about half of the lines hits. Every program runs with %d workers, threads or processes, page cache "
        "warm, each table made once beforehand (timed apart, below). Figures are medians of %d runs, "
        "interleaved (per run: lookup, DuckDB, maxminddb, one job after the other, then W1). Peak PSS is the "
        "summed PSS of the whole process tree (`measure.py`), mapped table pages included. Every output file "
        "was checked byte-identical to the reference join's (`peers/ranges_reference.py`, plain Python "
        "bisect, run once)%s." % (
            a.seed, format(a.rows, ","), a.files, format(a.lines, ","), w, a.runs,
            "; W1's output for gen.py's hit count" if a.w1_keys else ""),
        "",
    ]
    if not a.with_lookup:
        md += ["**`lookup` was not measured (`--no-lookup`): no targets.**", ""]
    for job in all_jobs:
        if job == "w1":
            md += ["## W1 exact-match join (`w1`, the reference workload)", "",
                   "Table `w1.csv` (gen.py): %s rows `key,value` (%.0f MiB; `w1.lmdb` %.0f MiB). Input: %s lines "
                   "(%.0f MiB), %s hits." % (format(a.w1_keys, ","), mib("w1.csv"), mib("w1.lmdb"),
                                             format(total_lines, ","), mib("w1-input"),
                                             format(int(sizes.get("w1-hits", 0)), ",")), ""]
        else:
            e = expected[job]
            md += ["## %s (`%s`)" % (JOB_NAMES[job], job), "",
                   "Table `%s.csv`: %s rows (%.0f MiB; %s), %.1f%% of the IPv4 space, %s CIDR blocks. "
                   "Input: %s lines (%.0f MiB), %s hits (= output lines)." % (
                       job, format(e["table_rows"], ","), mib(job + ".csv"),
                       ", ".join("`%s` %.0f MiB" % (name, mib(name)) for name in
                                 (job + ".lmdb", job + ".duckdb", job + ".mmdb") if name in sizes),
                       100 * e["covered_fraction"], format(e["cidr_blocks"], ","),
                       format(e["lines"], ","), mib(job + "-input"), format(e["hit_lines"], ",")), ""]
        rows = []
        ours = find(job, "lookup run")
        for s in (s for s in summaries if s["job"] == job and s["phase"] == "join"):
            ratio = "%.2f" % (s["wall_s"]["median"] / ours["wall_s"]["median"]) if ours else "–"
            rows.append([s["label"], s["command"], "%.2f" % s["wall_s"]["median"], "%.2f" % s["wall_s"]["min"],
                         "%.2f" % s["wall_s"]["max"], "%.2f" % (s["lines_per_s"]["median"] / 1e6),
                         "%.0f" % s["peak_pss_mib"]["median"], "%.0f" % s["peak_rss_mib"]["median"],
                         "%.1f" % s["cpu_s"]["median"], ratio])
        md += md_table(["program", "command", "median wall s", "min", "max", "M input lines/s", "peak PSS MiB",
                        "peak RSS MiB", "CPU s", "this / lookup, wall"], rows) + [""]
        md += ["Peak PSS split (medians, MiB): " + "; ".join(
            "%s %.0f anonymous + %.0f file, %d processes" % (
                s["label"], s["peak_pss_anon_mib"]["median"], s["peak_pss_file_mib"]["median"], s["procs"])
            for s in summaries if s["job"] == job and s["phase"] == "join") + ".", ""]
        md += ["Tables, made once (one run, not compared): " + "; ".join(
            "%s %s: %.2f s, peak PSS %.0f MiB" % (s["label"], s["command"], s["wall_s"]["median"], s["peak_pss_mib"]["median"])
            for s in summaries if s["job"] == job and s["phase"] == "build") + ".", ""]
    if targets:
        md += ["## Targets", "",
               "Range join lines/s over W1's (same workers, same input size); each peer's median wall time over "
               "lookup's:", ""]
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
