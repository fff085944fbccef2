#!/usr/bin/env python3
"""Turn run.sh's measurements (one JSON line per measured command) into the results
files OUT.md and OUT.json, and print the Markdown table. Called by run.sh."""
import argparse
import datetime
import json
import os
import platform
import statistics

# label -> (how the command reads in the table, benchmark, the C peer it is compared with)
COMMANDS = {
    "lookup build": ("`lookup build table.csv -o t.lmdb`", "build", "build_c_lmdb"),
    "build_c_lmdb": ("`build_c_lmdb table.csv t_c.lmdb`", "build", None),
    "lookup get": ("`lookup get t.lmdb < keys.txt > out`", "get", "get_c_lmdb"),
    "get_c_lmdb": ("`get_c_lmdb t_c.lmdb < keys.txt > out_c`", "get", None),
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
    ap.add_argument("--out", required=True)
    ap.add_argument("--invocation", required=True)
    for name in ("keys", "get-keys", "runs", "seed", "c-only", "table-bytes", "lmdb-bytes",
                 "lookup-bytes", "git-dirty"):
        ap.add_argument("--" + name, type=int, required=True)
    for name in ("git", "lmdb-version", "swift-version", "cc-version"):
        ap.add_argument("--" + name, default="")
    ap.add_argument("--verified", action="append", default=[])
    ap.add_argument("--load-before", default="")
    a = ap.parse_args()

    with open(a.raw) as f:
        raw = [json.loads(line) for line in f if line.strip()]
    by_label = {}
    for r in raw:
        by_label.setdefault(r["label"], []).append(r)

    rows = []
    for label, (shown, bench, peer) in COMMANDS.items():
        rs = by_label.get(label)
        if not rs:
            continue
        walls = [r["wall_s"] for r in rs]
        psss = [r["peak_pss_mib"] for r in rs]
        rows.append({
            "label": label, "command": shown, "benchmark": bench, "peer": peer,
            "runs": len(rs),
            "wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls), "all": walls},
            "peak_pss_mib": {"median": statistics.median(psss), "max": max(psss), "all": psss},
            "peak_rss_mib": {"median": statistics.median(r["peak_rss_mib"] for r in rs)},
            "peak_pss_anon_mib": {"median": statistics.median(r.get("peak_pss_anon_mib", 0) for r in rs)},
            "peak_pss_file_mib": {"median": statistics.median(r.get("peak_pss_file_mib", 0) for r in rs)},
            "cpu_s": {"median": statistics.median(r["user_s"] + r["sys_s"] for r in rs)},
        })
    medians = {r["label"]: r for r in rows}
    for r in rows:
        p = medians.get(r["peer"]) if r["peer"] else r
        if p:
            r["wall_ratio_to_c"] = round(r["wall_s"]["median"] / p["wall_s"]["median"], 2)
            r["pss_ratio_to_c"] = round(r["peak_pss_mib"]["median"] / p["peak_pss_mib"]["median"], 2)

    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    machine = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_gib": mem_total_gib(),
        "kernel": platform.release(),
        "load_average_before": a.load_before.split() or None,
        "load_average_after": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "") if hasattr(platform, "freedesktop_os_release") else "",
    }
    params = {
        "keys": a.keys, "get_keys": a.get_keys, "hit": 0.5, "runs": a.runs, "seed": a.seed,
        "table_csv_bytes": a.table_bytes, "lookup_table_bytes": a.lookup_bytes or None,
        "c_table_bytes": a.lmdb_bytes, "page_cache": "warm (nothing dropped between runs)",
        "order": "per run: lookup build, build_c_lmdb, lookup get, get_c_lmdb",
    }
    versions = {"git": a.git + ("+%d modified files" % a.git_dirty if a.git_dirty else ""),
                "swift": a.swift_version, "liblmdb": a.lmdb_version, "cc": a.cc_version}

    header = ["command", "median wall s", "min", "max", "peak PSS MiB", "wall / C", "PSS / C", "CPU s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| %s | %.2f | %.2f | %.2f | %.0f | %.2f | %.2f | %.2f |" % (
            r["command"], r["wall_s"]["median"], r["wall_s"]["min"], r["wall_s"]["max"],
            r["peak_pss_mib"]["median"], r.get("wall_ratio_to_c", float("nan")),
            r.get("pss_ratio_to_c", float("nan")), r["cpu_s"]["median"]))
    table = "\n".join(lines)

    md = [
        "# Build and get: `lookup` vs straightforward C on liblmdb",
        "",
        "Command: `%s` (%s)" % (a.invocation, now.strftime("%Y-%m-%d %H:%M %Z")),
        "",
        "Machine: %d CPUs, %s, %s GiB RAM, Linux %s%s" % (
            machine["nproc"], machine["cpu_model"], machine["mem_total_gib"], machine["kernel"],
            ", " + machine["os"] if machine["os"] else ""),
        "",
        "Load average (1, 5, 15 min) before: %s; after: %s. Other work on the machine inflates "
        "and scatters wall times; CPU s (user + system, median) is less sensitive to it." % (
            a.load_before or "?", " ".join(machine["load_average_after"] or ["?"])),
        "",
        "Workload: %d-row `table.csv` (%.0f MiB, 16-hex-char keys, unsorted); `keys.txt` holds %d keys, "
        "about half present, in random order. %d runs, interleaved (%s); page cache warm. "
        "Wall time and peak PSS are medians over the runs; the ratios divide by the C peer's medians." % (
            a.keys, a.table_bytes / 2**20, a.get_keys, a.runs, params["order"]),
        "",
        table,
        "",
        "Table files: `t.lmdb` %s, `t_c.lmdb` %.0f MiB." % (
            "%.0f MiB" % (a.lookup_bytes / 2**20) if a.lookup_bytes else "(not built)", a.lmdb_bytes / 2**20),
        "",
        "Checked: " + "; ".join(a.verified) + ".",
        "",
        "Versions: %s." % ", ".join("%s %s" % (k, v) for k, v in versions.items() if v),
        "",
        "Peak PSS split into anonymous memory (heap, stacks) and file pages (mapped table, "
        "input, binaries), each part's own peak, medians: " + "; ".join(
            "%s %.0f anon + %.0f file" % (r["label"], r["peak_pss_anon_mib"]["median"], r["peak_pss_file_mib"]["median"])
            for r in rows) + ".",
        "",
        "Every run (wall s / peak PSS MiB):",
        "",
    ]
    for r in rows:
        md.append("- %s: %s" % (r["label"], ", ".join(
            "%.2f / %.0f" % (w, p) for w, p in zip(r["wall_s"]["all"], r["peak_pss_mib"]["all"]))))
    md.append("")

    result = {"benchmark": "build-get", "date": now.isoformat(timespec="seconds"),
              "command": a.invocation, "machine": machine, "parameters": params,
              "versions": versions, "checked": a.verified, "results": rows, "measurements": raw}
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
