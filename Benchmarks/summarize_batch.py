#!/usr/bin/env python3
"""Turn run-batch.sh's measurements (one JSON line per measured command) into the results
files OUT.md and OUT.json, and print the Markdown table. Called by run-batch.sh."""
import argparse
import datetime
import json
import os
import platform
import statistics

# label -> (how the command reads in the table, with {w} for the worker count, kind)
COMMANDS = {
    "lookup join": "`lookup run t.lmdb input -o out -j {w} --mode join -q`",
    "join_c_lmdb": "`join_c_lmdb t.lmdb input out {w} data`",
    "join_py_lmdb": "`join_py_lmdb.py t.lmdb input out {w} data`",
    "join_py_dict": "`join_py_dict.py table.csv input out {w}`",
    "mawk": "mawk hash join, 1 process (command below)",
    "lookup count": "`lookup run t.lmdb input -o - -j {w} --mode count -q`",
    "lookup join fork": "`lookup run t.lmdb input -o out -j {w} --start fork --mode join -q`",
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--build", default="", help="measure.py's JSON line of the table build")
    ap.add_argument("--out", required=True)
    ap.add_argument("--invocation", required=True)
    for name in ("keys", "files", "lines", "runs", "seed", "expected-hits", "table-csv-bytes",
                 "table-bytes", "input-bytes", "git-dirty"):
        ap.add_argument("--" + name, type=int, required=True)
    ap.add_argument("--workers", required=True)
    ap.add_argument("--peer-workers", default="", help="the worker counts the peers ran with")
    ap.add_argument("--skipped", action="append", default=[], help="a peer left out, and why")
    for name in ("git", "lmdb-version", "py-lmdb-version", "python-version", "mawk-version",
                 "swift-version", "cc-version", "mawk-program", "load-before", "load-after"):
        ap.add_argument("--" + name, default="")
    a = ap.parse_args()

    with open(a.raw) as f:
        raw = [json.loads(line) for line in f if line.strip()]
    build = json.loads(a.build) if a.build else None
    workers = [int(w) for w in a.workers.split()]
    peer_workers = [int(w) for w in a.peer_workers.split()] or workers
    total_lines = a.files * a.lines

    groups = {}
    for r in raw:
        groups.setdefault((r["label"], r["workers"]), []).append(r)
    order = []
    for w in workers:
        order += [(label, w) for label in ("lookup join", "join_c_lmdb", "join_py_lmdb", "join_py_dict")]
    order += [("mawk", 1), ("lookup count", max(peer_workers)), ("lookup join fork", max(peer_workers))]

    rows = []
    for label, w in order:
        rs = groups.get((label, w))
        if not rs:
            continue
        walls = [r["wall_s"] for r in rs]
        psss = [r["peak_pss_mib"] for r in rs]
        med_wall = statistics.median(walls)
        rows.append({
            "label": label, "workers": w, "command": COMMANDS[label].format(w=w), "runs": len(rs),
            "wall_s": {"median": med_wall, "min": min(walls), "max": max(walls), "all": walls},
            "lines_per_s": {"median": round(total_lines / med_wall),
                            "all": [round(total_lines / x) for x in walls]},
            "peak_pss_mib": {"median": statistics.median(psss), "min": min(psss), "max": max(psss), "all": psss},
            "peak_rss_mib": {"median": statistics.median(r["peak_rss_mib"] for r in rs)},
            "peak_pss_anon_mib": {"median": statistics.median(r.get("peak_pss_anon_mib", 0) for r in rs)},
            "peak_pss_file_mib": {"median": statistics.median(r.get("peak_pss_file_mib", 0) for r in rs)},
            "cpu_s": {"median": round(statistics.median(r["user_s"] + r["sys_s"] for r in rs), 3)},
            "procs": max(r["procs"] for r in rs),
        })
    lookup = {r["workers"]: r for r in rows if r["label"] == "lookup join"}
    for r in rows:
        # mawk is one process: it is compared with lookup on one worker (or the fewest measured).
        base_w = r["workers"] if r["workers"] in lookup else (1 if 1 in lookup else min(lookup, default=None))
        base = lookup.get(base_w)
        if not base:
            continue
        r["compared_with"] = "lookup join -j %d" % base_w
        r["wall_ratio_to_lookup"] = round(r["wall_s"]["median"] / base["wall_s"]["median"], 2)
        r["lines_per_s_ratio_to_lookup"] = round(r["lines_per_s"]["median"] / base["lines_per_s"]["median"], 2)
        r["pss_ratio_to_lookup"] = round(r["peak_pss_mib"]["median"] / base["peak_pss_mib"]["median"], 2)
        r["cpu_ratio_to_lookup"] = round(r["cpu_s"]["median"] / base["cpu_s"]["median"], 2)

    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    machine = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_gib": mem_total_gib(),
        "kernel": platform.release(),
        "load_average_before": a.load_before.split() or None,
        "load_average_after": a.load_after.split() or None,
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "") if hasattr(platform, "freedesktop_os_release") else "",
    }
    order_text = ("per run, for W in %s: lookup join, and for W in %s join_c_lmdb, join_py_lmdb, "
                  "join_py_dict; then mawk, lookup count -j %d, lookup join --start fork -j %d" % (
                      " ".join(map(str, workers)), " ".join(map(str, peer_workers)),
                      max(peer_workers), max(peer_workers)))
    params = {
        "keys": a.keys, "files": a.files, "lines_per_file": a.lines, "total_lines": total_lines,
        "hit": 0.5, "expected_hits": a.expected_hits, "runs": a.runs, "workers": workers,
        "peer_workers": peer_workers, "skipped": a.skipped,
        "seed": a.seed, "table_csv_bytes": a.table_csv_bytes, "table_lmdb_bytes": a.table_bytes,
        "input_bytes": a.input_bytes, "page_cache": "warm (inputs and table read before run 1; nothing dropped)",
        "between_commands": "sync (untimed), outputs of the previous command checked and deleted",
        "table": "one table built once by `lookup build table.csv -o t.lmdb`; the LMDB peers read its "
                 "named database `data`; join_py_dict.py and mawk read table.csv",
        "order": order_text,
        "mawk_command": "mawk -F, -v OFS=, -v OUT=out '%s' table.csv input/part-*.csv" % a.mawk_program,
    }
    versions = {"git": a.git + ("+%d modified files" % a.git_dirty if a.git_dirty else ""),
                "swift": a.swift_version, "liblmdb": a.lmdb_version, "py-lmdb": a.py_lmdb_version,
                "python": a.python_version, "mawk": a.mawk_version, "cc": a.cc_version}
    checked = [
        "every run: each output directory holds exactly one file per input file, each byte-identical "
        "(cmp) to the first lookup join output of the same run",
        "every run: lookup join wrote %d lines (the input lines with a table key); the peers "
        "that ran printed %d hits; lookup count counted %d hits in %d lines" % (
            a.expected_hits, a.expected_hits, a.expected_hits, total_lines),
    ]

    def ratio(r, key):
        return "%.2f" % r[key] if key in r else "–"

    header = ["command", "W", "median wall s", "min", "max", "M lines/s", "peak PSS MiB", "CPU s",
              "wall / lookup", "lines/s / lookup", "PSS / lookup", "CPU / lookup"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f | %s | %s | %s | %s |" % (
            r["command"], r["workers"], r["wall_s"]["median"], r["wall_s"]["min"], r["wall_s"]["max"],
            r["lines_per_s"]["median"] / 1e6, r["peak_pss_mib"]["median"], r["cpu_s"]["median"],
            ratio(r, "wall_ratio_to_lookup"), ratio(r, "lines_per_s_ratio_to_lookup"),
            ratio(r, "pss_ratio_to_lookup"), ratio(r, "cpu_ratio_to_lookup")))
    table = "\n".join(lines)

    md = [
        "# Batch join: `lookup run` vs C, Python and mawk",
        "",
        "Command: `%s` (%s)" % (a.invocation, now.strftime("%Y-%m-%d %H:%M %Z")),
        "",
        "Machine: %d CPUs, %s, %s GiB RAM, Linux %s%s" % (
            machine["nproc"], machine["cpu_model"], machine["mem_total_gib"], machine["kernel"],
            ", " + machine["os"] if machine["os"] else ""),
        "",
        "Load average (1, 5, 15 min) before: %s; after: %s. The machine is shared: other work "
        "inflates and scatters wall times (each run's 1-minute load before every command is in "
        "the .json); CPU s (user + system of the whole tree, median) is less sensitive to it." % (
            a.load_before or "?", a.load_after or "?"),
        "",
        "Workload: %d-row `table.csv` (%.0f MiB), built once into `t.lmdb` (%.0f MiB) with "
        "`lookup build`; %d input files x %d lines `key,int,filler` (%.0f MiB, %d lines), "
        "%d of them (%.1f%%) with a table key. %d runs, interleaved (%s); page cache warm. "
        "Figures are medians over the runs; each ratio divides by `lookup run --mode join` with "
        "the same W (mawk: W = 1). Below 1.00 in wall / lookup or PSS / lookup, the peer is "
        "faster or smaller than lookup." % (
            a.keys, a.table_csv_bytes / 2**20, a.table_bytes / 2**20, a.files, a.lines,
            a.input_bytes / 2**20, total_lines, a.expected_hits, 100.0 * a.expected_hits / total_lines,
            a.runs, order_text),
        "",
        table,
        "",
    ]
    if a.skipped:
        md += ["Skipped: " + "; ".join(a.skipped) + ".", ""]
    if build:
        md += ["The table build, once before the runs (not in the table): `lookup build table.csv -o t.lmdb` "
               "%.2f s, peak PSS %.0f MiB." % (build["wall_s"], build["peak_pss_mib"]), ""]
    md += [
        "mawk command: `%s`" % params["mawk_command"],
        "",
        "Checked: " + "; ".join(checked) + ".",
        "",
        "Versions: %s." % ", ".join("%s %s" % (k, v) for k, v in versions.items() if v),
        "",
        "Peak PSS split into anonymous memory (heap, stacks; for join_py_dict the dict, for mawk "
        "its hash table) and file pages (mapped table, binaries, libraries), each part's own "
        "peak, medians; and the most processes seen in the tree: " + "; ".join(
            "%s W%d %.0f anon + %.0f file, %d procs" % (
                r["label"], r["workers"], r["peak_pss_anon_mib"]["median"],
                r["peak_pss_file_mib"]["median"], r["procs"])
            for r in rows) + ".",
        "",
        "Every run (wall s / peak PSS MiB):",
        "",
    ]
    for r in rows:
        md.append("- %s W%d: %s" % (r["label"], r["workers"], ", ".join(
            "%.2f / %.0f" % (w, p) for w, p in zip(r["wall_s"]["all"], r["peak_pss_mib"]["all"]))))
    md.append("")

    result = {"benchmark": "batch-join", "date": now.isoformat(timespec="seconds"),
              "command": a.invocation, "machine": machine, "parameters": params,
              "versions": versions, "checked": checked, "skipped": a.skipped, "table_build": build,
              "results": rows, "measurements": raw}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md))
    with open(a.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(table)
    print("\nwrote %s.md and %s.json" % (a.out, a.out))


if __name__ == "__main__":
    main()
