#!/usr/bin/env python3
"""Turn run.sh's measurements (one JSON line per measured command, and one per API lookup
loop) into the results files OUT.md and OUT.json, and print the Markdown tables. Called by
run.sh."""
import argparse
import datetime
import json
import os
import platform
import statistics

# label -> (how the command reads in the table, benchmark, the C peer it is compared with)
COMMANDS = {
    "lookup build": ("`lookup build --memory {memory} table.csv -o t.lmdb`", "build", "build_c_lmdb"),
    "build_c_lmdb": ("`build_c_lmdb table.csv t_c.lmdb`", "build", None),
    "build_py_lmdb": ("`build_py_lmdb.py table.csv t_py.lmdb`", "build", "build_c_lmdb"),
    "lookup get": ("`lookup get t.lmdb < keys.txt > out`", "get", "get_c_lmdb"),
    "get_c_lmdb": ("`get_c_lmdb t_c.lmdb < keys.txt > out_c`", "get", None),
}
# this project's command of each benchmark: every row's "/ lookup" ratio divides by it
OURS = {"build": "lookup build", "get": "lookup get"}
# API lookup loops: label -> how the loop reads in the table
API = {
    "api one": "Swift `reader.value(for:)`, one key at a time, one `Table.read`",
    "api batch": "Swift `KeyBatch`, batches of 65,536 keys",
    "api mdb_get": "C `mdb_get` one key at a time, one read txn (`get_api_c_lmdb`)",
}


def size_mib(text):
    """MiB in a size like `lookup --memory` takes: 512M, 1G, 1.5GiB, bytes (binary units)."""
    t = text.strip().lower()
    for suffix, factor in (("kib", 2**10), ("mib", 2**20), ("gib", 2**30), ("tib", 2**40),
                           ("kb", 2**10), ("mb", 2**20), ("gb", 2**30), ("tb", 2**40),
                           ("k", 2**10), ("m", 2**20), ("g", 2**30), ("t", 2**40), ("b", 1)):
        if t.endswith(suffix):
            return float(t[:-len(suffix)]) * factor / 2**20
    return float(t) / 2**20


def api_rows(api_raw):
    """Median ns per key of each API loop over the runs, with ratios to C mdb_get."""
    by_label = {}
    for r in api_raw:
        by_label.setdefault(r["label"], []).append(r)
    rows = []
    for label, shown in API.items():
        rs = by_label.get(label)
        if not rs:
            continue
        ns = [r["ns_per_key"] for r in rs]
        rows.append({"label": label, "loop": shown, "runs": len(rs), "keys": rs[0]["keys"],
                     "ns_per_key": {"median": statistics.median(ns), "min": min(ns), "max": max(ns), "all": ns},
                     "hits": rs[0]["hits"], "value_bytes": rs[0]["value_bytes"],
                     "key_index": rs[0].get("key_index")})
    c = next((r for r in rows if r["label"] == "api mdb_get"), None)
    for r in rows:
        if c:
            r["ns_ratio_to_c"] = round(r["ns_per_key"]["median"] / c["ns_per_key"]["median"], 2)
            r["speedup_over_c"] = round(c["ns_per_key"]["median"] / r["ns_per_key"]["median"], 2)
    return rows


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
    ap.add_argument("--api-raw", default="", help="the API loops' JSON lines")
    ap.add_argument("--memory", default="1G", help="lookup build --memory")
    ap.add_argument("--skipped", action="append", default=[], help="a peer left out, and why")
    ap.add_argument("--out", required=True)
    ap.add_argument("--invocation", required=True)
    for name in ("keys", "get-keys", "runs", "seed", "c-only", "table-bytes", "lmdb-bytes",
                 "lookup-bytes", "git-dirty"):
        ap.add_argument("--" + name, type=int, required=True)
    for name in ("git", "lmdb-version", "py-lmdb-version", "swift-version", "cc-version"):
        ap.add_argument("--" + name, default="")
    ap.add_argument("--verified", action="append", default=[])
    ap.add_argument("--load-before", default="")
    a = ap.parse_args()

    with open(a.raw) as f:
        raw = [json.loads(line) for line in f if line.strip()]
    api_raw = []
    if a.api_raw:
        with open(a.api_raw) as f:
            api_raw = [json.loads(line) for line in f if line.strip()]
    apis = api_rows(api_raw)
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
            "label": label, "command": shown.format(memory=a.memory), "benchmark": bench, "peer": peer,
            "runs": len(rs),
            "wall_s": {"median": statistics.median(walls), "min": min(walls), "max": max(walls), "all": walls},
            "peak_pss_mib": {"median": statistics.median(psss), "max": max(psss), "all": psss},
            "peak_rss_mib": {"median": statistics.median(r["peak_rss_mib"] for r in rs),
                             # the tree's summed RSS, or the kernel's high-water mark of its
                             # largest process (which catches peaks between samples)
                             "max": max(max(r["peak_rss_mib"], r.get("max_rss_mib", 0)) for r in rs)},
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
        ours = medians.get(OURS[r["benchmark"]])
        if ours:
            r["wall_ratio_to_lookup"] = round(r["wall_s"]["median"] / ours["wall_s"]["median"], 2)
            r["pss_ratio_to_lookup"] = round(r["peak_pss_mib"]["median"] / ours["peak_pss_mib"]["median"], 2)

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
        "build_memory": a.memory, "build_memory_mib": size_mib(a.memory), "skipped": a.skipped,
        "table_csv_bytes": a.table_bytes, "lookup_table_bytes": a.lookup_bytes or None,
        "c_table_bytes": a.lmdb_bytes, "page_cache": "warm (nothing dropped between runs)",
        "order": "per run: lookup build, build_c_lmdb, build_py_lmdb, lookup get, get_c_lmdb, "
                 "API loops (Swift one key at a time, Swift batch, C mdb_get)",
    }
    versions = {"git": a.git + ("+%d modified files" % a.git_dirty if a.git_dirty else ""),
                "swift": a.swift_version, "liblmdb": a.lmdb_version, "py-lmdb": a.py_lmdb_version,
                "cc": a.cc_version}

    def ratio(r, key):
        return "%.2f" % r[key] if key in r else "–"

    header = ["command", "median wall s", "min", "max", "peak PSS MiB", "peak RSS MiB", "wall / C",
              "PSS / C", "wall / lookup", "PSS / lookup", "CPU s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| %s | %.2f | %.2f | %.2f | %.0f | %.0f | %s | %s | %s | %s | %.2f |" % (
            r["command"], r["wall_s"]["median"], r["wall_s"]["min"], r["wall_s"]["max"],
            r["peak_pss_mib"]["median"], r["peak_rss_mib"]["max"], ratio(r, "wall_ratio_to_c"),
            ratio(r, "pss_ratio_to_c"), ratio(r, "wall_ratio_to_lookup"), ratio(r, "pss_ratio_to_lookup"),
            r["cpu_s"]["median"]))
    table = "\n".join(lines)
    api_table = ""
    if apis:
        header = ["point lookups, %d keys in keys.txt order" % apis[0]["keys"], "median ns/key", "min", "max",
                  "M keys/s", "ns / C mdb_get", "speed-up over C", "hits", "value bytes"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in apis:
            lines.append("| %s | %.1f | %.1f | %.1f | %.2f | %s | %s | %d | %d |" % (
                r["loop"], r["ns_per_key"]["median"], r["ns_per_key"]["min"], r["ns_per_key"]["max"],
                1e3 / r["ns_per_key"]["median"] if r["ns_per_key"]["median"] else 0,
                ratio(r, "ns_ratio_to_c"), ratio(r, "speedup_over_c"), r["hits"], r["value_bytes"]))
        api_table = "\n".join(lines)

    md = [
        "# Build, get and point lookups: `lookup` vs straightforward C on liblmdb (and a py-lmdb builder)",
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
        "Wall time and peak PSS are medians over the runs; wall / C and PSS / C divide by the C "
        "peer's medians, wall / lookup and PSS / lookup by `lookup`'s (build or get)." % (
            a.keys, a.table_bytes / 2**20, a.get_keys, a.runs, params["order"]),
        "",
        table,
        "",
        "peak RSS MiB is the largest over the runs of the tree's summed RSS or its largest process's "
        "`ru_maxrss`; `lookup build --memory %s` bounds the build's sort memory." % a.memory,
        "",
    ]
    if api_table:
        md += [
            "Point lookups through the Swift API and C `mdb_get` on the same file `t.lmdb` (C reads its "
            "database `data`), the same keys in the same order, loaded into memory first; one untimed "
            "pass, then 3 timed passes per process, their median; the table gives the median over the "
            "runs. Only the lookup loop is timed. The key index was %s." % (
                "used" if apis[0].get("key_index") else "not used (absent or not matching)"),
            "",
            api_table,
            "",
        ]
    if a.skipped:
        md += ["Skipped: " + "; ".join(a.skipped) + ".", ""]
    md += [
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
              "versions": versions, "checked": a.verified, "skipped": a.skipped, "results": rows,
              "api": apis, "measurements": raw, "api_measurements": api_raw}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md))
    with open(a.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(table)
    if api_table:
        print("\n" + api_table)
    print("\nwrote %s.md and %s.json" % (a.out, a.out))


if __name__ == "__main__":
    main()
