#!/usr/bin/env python3
"""Turn run-updates.sh's measurements (one JSON line per measured command) into OUT.jsonl and
OUT.md, and print the Markdown. Called by run-updates.sh; updates_targets (from jobs_summary)
reads the targets back from OUT.jsonl, as summarize_all.py does for the joins and ranges.

OUT.jsonl, one JSON object a line, its kind in "record":
  parameters   the workload, the change counts, the machine, the versions, the command (first line)
  measurement  every measured command, as measure.py printed it, with job (w1: the W1 table;
               big: the big one), phase (build, update: the runs' pairs; check, compact: once on
               the updated table; fresh-build: W1's table of the same contents, once; join: the
               W1 join through either table), run, workers
  summary      per job, phase and command: medians over the runs (wall s, peak PSS/RSS, CPU s)
  target       update / build wall time per size (<= 0.10 for W1, <= 0.03 for the big table);
               the W1 join through the updated table / through the fresh one (<= 1.3);
               `lookup check` of each updated table passes
"""
import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jobs_summary  # noqa: E402
from jobs_summary import md_table, summarize  # noqa: E402

updates_targets = jobs_summary.targets

JOB_NAMES = {"w1": "W1 table", "big": "big table"}
UPDATE_LIMIT = {"w1": 0.10, "big": 0.03}
TARGET_ROWS = {"w1": 5_000_000, "big": 50_000_000}   # the sizes the targets were set for
JOIN_LIMIT = 1.3
COMMANDS = {
    ("*", "lookup build"): "`lookup build table.csv -o t.lmdb`",
    ("*", "lookup update"): "`lookup update t.lmdb --upsert up.csv --delete del.txt -q`",
    ("*", "lookup check"): "`lookup check t.lmdb`",
    ("*", "lookup compact"): "`lookup compact t.lmdb -q`",
    ("w1", "fresh build"): "`lookup build applied.csv -o fresh.lmdb`",
    ("*", "lookup run (updated)"): "`lookup run t.lmdb input -o out -j {w} --mode join -q`",
    ("*", "lookup run (fresh)"): "`lookup run fresh.lmdb input -o out -j {w} --mode join -q`",
}
PHASES = ("build", "update", "check", "compact", "fresh-build", "join")


def main():
    ap = argparse.ArgumentParser()
    for name in ("raw", "out", "expected-w1", "expected-big", "big-table", "invocation", "sizes", "change",
                 "big-change", "load-before", "load-after", "git", "swift-version", "python-version"):
        ap.add_argument("--" + name, default="")
    for name in ("keys", "files", "lines", "runs", "workers", "seed", "git-dirty"):
        ap.add_argument("--" + name, type=int, default=0)
    a = ap.parse_args()

    with open(a.raw) as f:
        measurements = [json.loads(line) for line in f if line.strip()]
    expected = {}
    for job, path in (("w1", a.expected_w1), ("big", a.expected_big)):
        if path:
            with open(path) as f:
                expected[job] = json.load(f)
    sizes = {k: int(v) for k, v in (s.split("=", 1) for s in a.sizes.split())}
    jobs = [j for j in ("w1", "big") if j in expected]
    w = a.workers
    total_lines = a.files * a.lines
    change = {"w1": a.change, "big": a.big_change}
    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    machine = jobs_summary.machine(a.load_before, a.load_after)
    versions = {"git": a.git, "git_dirty_files": a.git_dirty, "swift": a.swift_version, "python": a.python_version}
    params = {
        "record": "parameters", "benchmark": "updates", "date": now.isoformat(timespec="seconds"),
        "command": a.invocation, "w1_keys": a.keys, "files": a.files, "lines_per_file": a.lines,
        "total_lines": total_lines, "runs": a.runs, "workers": w, "seed": a.seed,
        "change_percent": {j: float(change[j]) for j in jobs}, "big_table": a.big_table or None,
        "expected": expected, "bytes": sizes, "machine": machine, "versions": versions,
    }

    summaries = []
    for job in jobs:
        mine = [m for m in measurements if m["job"] == job]
        for phase in PHASES:
            for label in dict.fromkeys(m["label"] for m in mine if m["phase"] == phase):
                rows = [m for m in mine if m["phase"] == phase and m["label"] == label]
                key = "fresh build" if phase == "fresh-build" else label
                summaries.append(dict(record="summary", job=job, phase=phase, label=label, workers=w,
                                      command=jobs_summary.command(COMMANDS, job, key, w),
                                      **summarize(rows, total_lines if phase == "join" else None)))

    def find(job, phase, label=None):
        return next((s for s in summaries if s["job"] == job and s["phase"] == phase
                     and (label is None or s["label"] == label)), None)

    def note(job, join=False):
        """Says when the size is not the one the target was set for (its ratios mean little then)."""
        rows = expected[job]["rows_before"]
        off = rows != TARGET_ROWS[job] or (join and total_lines != 16_000_000)
        return "set for %s rows%s; measured at %s%s" % (
            format(TARGET_ROWS[job], ","), " and 16 x 1M input lines" if join else "", format(rows, ","),
            " rows and %d x %s lines" % (a.files, format(a.lines, ",")) if join else " rows") if off else ""

    targets = []
    for job in jobs:
        build, update = find(job, "build"), find(job, "update")
        if build and update:
            r = update["wall_s"]["median"] / build["wall_s"]["median"]
            targets.append({
                "record": "target", "job": job, "figure": "update_over_build_wall",
                "target": "`lookup update` of %s%% of a %s-row table: wall time <= %.0f%% of `lookup build`'s" % (
                    change[job], format(expected[job]["rows_before"], ","), 100 * UPDATE_LIMIT[job]),
                "ratio": round(r, 4),
                "measured": "%.1f%% (%.3f s vs %.2f s)" % (100 * r, update["wall_s"]["median"], build["wall_s"]["median"]),
                "limit": "<= %.0f%%" % (100 * UPDATE_LIMIT[job]), "met": r <= UPDATE_LIMIT[job], "note": note(job)})
    updated, fresh = find("w1", "join", "lookup run (updated)"), find("w1", "join", "lookup run (fresh)")
    if updated and fresh:
        r = updated["wall_s"]["median"] / fresh["wall_s"]["median"]
        targets.append({
            "record": "target", "job": "w1", "figure": "join_updated_over_fresh_wall",
            "target": "W1 join (`lookup run -j %d`) through the updated table: wall time <= %.1fx through a "
                      "fresh table of the same contents" % (w, JOIN_LIMIT),
            "ratio": round(r, 3),
            "measured": "%.2fx (%.2f s vs %.2f s)" % (r, updated["wall_s"]["median"], fresh["wall_s"]["median"]),
            "limit": "<= %.1fx" % JOIN_LIMIT, "met": r <= JOIN_LIMIT, "note": note("w1", join=True)})
    for job in jobs:
        check = find(job, "check")
        if check:  # run-updates.sh stops when the check fails: a recorded check passed
            targets.append({
                "record": "target", "job": job, "figure": "check",
                "target": "`lookup check` passes on the updated %s" % JOB_NAMES[job],
                "ratio": None, "measured": "passed (%.2f s)" % check["wall_s"]["median"],
                "limit": "passes", "met": True, "note": ""})

    with open(a.out + ".jsonl", "w") as f:
        for rec in [params] + measurements + summaries + targets:
            f.write(json.dumps(rec) + "\n")

    # ---- Markdown
    mib = lambda name: sizes[name] / 2**20 if name in sizes else float("nan")  # noqa: E731

    def size(name):
        """A file size for people: KiB below 1 MiB, else MiB."""
        if name not in sizes:
            return "?"
        return "%.0f KiB" % (sizes[name] / 2**10) if sizes[name] < 2**20 else "%.1f MiB" % mib(name)
    md = jobs_summary.report_header("# Table updates: `lookup update` vs a full build, and joins through an updated table", a, now, machine) + [
        "",
        "Each update is measured on a table just built from `table.csv` (`t.lmdb` and `t.lmdb.versions/` removed "
        "before each build), so every run starts the same. Change files (`gen_updates.py`, seed %d): of the "
        "changed rows, half are existing keys given new values and a quarter new keys (`up.csv`), a quarter "
        "existing keys deleted (`del.txt`). Figures are medians of %d runs, page cache warm; peak PSS is the "
        "summed PSS of the whole process tree (`measure.py`), mapped table pages included (shared pages once)." % (
            a.seed, a.runs),
        "",
    ]
    for job in jobs:
        e = expected[job]
        md += ["## %s: %s rows, %s%% changed" % (JOB_NAMES[job].capitalize(), format(e["rows_before"], ","), change[job]), ""]
        source = "gen.py's W1 table" if job == "w1" else "`%s`" % a.big_table
        md += ["Table: %s (%s). Changes: %s upserts (%s of them new keys) in `up.csv` (%s), %s deletes in "
               "`del.txt` (%s); %s rows after. Files after the update: the base `t.lmdb.versions/v000001.lmdb` "
               "%s, the change layer `t.lmdb` %s." % (
                   source, size(job + "-table.csv"), format(e["upserted"], ","), format(e["new"], ","),
                   size(job + "-up.csv"), format(e["deleted"], ","), size(job + "-del.txt"),
                   format(e["rows_after"], ","), size(job + "-base"), size(job + "-layer")), ""]
        rows = []
        for s in (s for s in summaries if s["job"] == job and s["phase"] != "join"):
            rows.append([s["label"] if s["phase"] != "fresh-build" else "lookup build (fresh)", s["command"],
                         s["runs"], "%.3f" % s["wall_s"]["median"], "%.3f" % s["wall_s"]["min"],
                         "%.3f" % s["wall_s"]["max"], "%.0f" % s["peak_pss_mib"]["median"],
                         "%.0f" % s["peak_rss_mib"]["median"], "%.0f" % s["max_rss_mib"]["median"],
                         "%.2f" % s["cpu_s"]["median"]])
        md += md_table(["step", "command", "runs", "median wall s", "min", "max", "peak PSS MiB", "peak RSS MiB",
                        "ru_maxrss MiB", "CPU s"], rows) + [""]
        md += ["Peak PSS and RSS are sampled every 20 ms, so a command of a few tens of milliseconds may "
               "show less than it held; `ru_maxrss` (the largest process's high-water mark) does not miss it.", ""]
        if job == "w1" and updated and fresh:
            md += ["### The W1 join through the updated table", "",
                   "Input: %d files x %s lines (%s); %s hits through the updated table (%s before the "
                   "update): %s hit lines read a changed value, %s lost their key, %s found a new one. The fresh "
                   "table `fresh.lmdb` (%s) was built from `applied.csv` (the table after the changes); "
                   "the two tables' `lookup dump --format csv` outputs were byte-identical, and so was every output file of "
                   "every run. Runs interleaved, the order alternating." % (
                       a.files, format(a.lines, ","), size("w1-input"), format(e["hits_after"], ","),
                       format(e["hits_before"], ","), format(e["hit_lines_changed"], ","),
                       format(e["hit_lines_deleted"], ","), format(e["hit_lines_new"], ","), size("w1-fresh")), ""]
            md += md_table(["table", "command", "median wall s", "min", "max", "M input lines/s", "peak PSS MiB",
                            "peak RSS MiB", "CPU s", "wall / fresh", "PSS / fresh"],
                           [[s["label"].split("(")[1].rstrip(")"), s["command"], "%.2f" % s["wall_s"]["median"],
                             "%.2f" % s["wall_s"]["min"], "%.2f" % s["wall_s"]["max"],
                             "%.2f" % (s["lines_per_s"]["median"] / 1e6), "%.0f" % s["peak_pss_mib"]["median"],
                             "%.0f" % s["peak_rss_mib"]["median"], "%.1f" % s["cpu_s"]["median"],
                             "%.2f" % (s["wall_s"]["median"] / fresh["wall_s"]["median"]),
                             "%.2f" % (s["peak_pss_mib"]["median"] / fresh["peak_pss_mib"]["median"])]
                            for s in (updated, fresh)]) + [""]
            md += ["Peak PSS split (medians, MiB): " + "; ".join(
                "%s %.0f anonymous + %.0f file, %d processes" % (
                    s["label"], s["peak_pss_anon_mib"]["median"], s["peak_pss_file_mib"]["median"], s["procs"])
                for s in (updated, fresh)) + ". The updated table's files (base + layer) are %.0f MiB, the fresh "
                "one %.0f MiB." % (mib("w1-base") + mib("w1-layer"), mib("w1-fresh")), ""]
        md += ["After the runs: `lookup check t.lmdb` passed on the updated table; `lookup compact t.lmdb -q` "
               "folded the changes into a new base with the same record count%s." % (
                   " (then `lookup check` passed and its dump equalled the fresh table's)" if job == "w1" else ""), ""]
    if targets:
        md += ["## Targets", ""]
        md += md_table(["target", "measured", "limit", "met", "note"],
                       [[t["target"], t["measured"], t["limit"], "met" if t["met"] else "**NOT met**", t["note"]]
                        for t in targets])
        md += [""]
    md += ["Every measurement, the machine and the versions: `%s.jsonl`." % os.path.basename(a.out), ""]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))
    print("wrote %s.md and %s.jsonl" % (a.out, a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
