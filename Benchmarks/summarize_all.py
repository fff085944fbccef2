#!/usr/bin/env python3
"""Gather run-all.sh's per-size results (DIR/size-N/build-get.json and batch-join.json, as
written by summarize.py and summarize_batch.py) into DIR/summary.md and DIR/summary.json:
per table size the key figures and the issue's targets with the measured ratio and whether
each is met; a table of how the costs grow with the table size; and DIR/summary.svg (see
chart.py). With --joins FILE (run-joins.sh's joins.jsonl, written by summarize_joins.py), also
the join kinds' targets: the one-to-many and the composite-key join against DuckDB and Polars.
With --ranges FILE (run-ranges.sh's ranges.jsonl, written by summarize_ranges.py), also the
range lookups' targets: the IPv4 range and CIDR joins against the W1 join, DuckDB and maxminddb.
With --updates FILE (run-updates.sh's updates.jsonl), also the update targets: an update's
cost against a full build, and the W1 join through an updated table against a fresh one.
Called by run-all.sh."""
import argparse
import datetime
import json
import os

from chart import chart
import jobs_summary

JOIN_LABELS = ("lookup join", "join_c_lmdb", "join_py_lmdb", "join_py_dict", "mawk",
               "lookup count", "lookup join fork")


def step_section(path, heading, describe):
    """One step's section (run-joins.sh, run-ranges.sh, run-updates.sh) from its OUT.jsonl:
    its parameters, targets and summaries, and markdown: the heading, describe(parameters),
    and the targets with whether each is met."""
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    p = next(r for r in records if r.get("record") == "parameters")
    data = {"parameters": p, "targets": jobs_summary.targets(records),
            "summaries": [r for r in records if r.get("record") == "summary"]}
    md = ["## " + heading, "", describe(p), ""]
    if data["targets"]:
        md += ["Targets:", ""] + md_table(
            ["target", "measured", "limit", "met"],
            [[t["target"], t["measured"], t["limit"], "met" if t["met"] else "**NOT met**"] for t in data["targets"]]) + [""]
    else:
        md += ["No targets: `lookup` was not measured.", ""]
    return data, md


def by_label(rows, key="label"):
    return {r[key]: r for r in rows}


def join_row(batch, label, w):
    return next((r for r in batch["results"] if r["label"] == label and r["workers"] == w), None)


def target(name, measured, limit, met, note=""):
    return {"target": name, "measured": measured, "limit": limit, "met": met, "note": note}


def targets(build_get, batch, reference_keys, big_keys):
    """The issue's targets, evaluated on one size's results."""
    keys = batch["parameters"]["keys"]
    out = []
    builds = by_label(build_get["results"])
    apis = by_label(build_get.get("api", []))

    ours, c = join_row(batch, "lookup join", 2), join_row(batch, "join_c_lmdb", 2)
    if ours and c:
        r = ours["wall_s"]["median"] / c["wall_s"]["median"]
        out.append(target("`lookup run -j 2 --mode join` wall time <= 0.5x the C program's with 2 workers",
                          "%.2fx (%.2f s vs %.2f s)" % (r, ours["wall_s"]["median"], c["wall_s"]["median"]),
                          "0.50x", r <= 0.5))
    table_mib = batch["parameters"]["table_lmdb_bytes"] / 2**20
    for w in (2, 4):
        row = join_row(batch, "lookup join", w)
        if row:
            limit = 1.15 * table_mib + 32 * w
            pss = row["peak_pss_mib"]["median"]
            out.append(target("summed PSS of the tree, %d workers <= 1.15x the table file + 32 MiB per worker" % w,
                              "%.0f MiB (%.2fx the limit)" % (pss, pss / limit),
                              "%.0f MiB (table %.0f MiB)" % (limit, table_mib), pss <= limit))
    if "lookup build" in builds and "build_c_lmdb" in builds:
        r = builds["lookup build"]["wall_s"]["median"] / builds["build_c_lmdb"]["wall_s"]["median"]
        out.append(target("`lookup build` <= 0.75x the C builder (read all, qsort, append)",
                          "%.2fx (%.2f s vs %.2f s)" % (r, builds["lookup build"]["wall_s"]["median"],
                                                        builds["build_c_lmdb"]["wall_s"]["median"]),
                          "0.75x", r <= 0.75,
                          "" if keys == reference_keys else "target set for %s rows" % format(reference_keys, ",")))
    if "api one" in apis and "api mdb_get" in apis:
        r = apis["api one"]["ns_per_key"]["median"] / apis["api mdb_get"]["ns_per_key"]["median"]
        out.append(target("Swift API, one key at a time <= 1.1x C `mdb_get` per key",
                          "%.2fx (%.1f vs %.1f ns/key)" % (r, apis["api one"]["ns_per_key"]["median"],
                                                           apis["api mdb_get"]["ns_per_key"]["median"]),
                          "1.10x", r <= 1.1))
    if "api batch" in apis and "api mdb_get" in apis:
        r = apis["api mdb_get"]["ns_per_key"]["median"] / apis["api batch"]["ns_per_key"]["median"]
        out.append(target("Swift API, batch of keys >= 2x faster per key than C `mdb_get`",
                          "%.2fx faster (%.1f vs %.1f ns/key)" % (r, apis["api batch"]["ns_per_key"]["median"],
                                                                  apis["api mdb_get"]["ns_per_key"]["median"]),
                          "2.00x", r >= 2.0))
    if "lookup build" in builds:
        budget = build_get["parameters"]["build_memory_mib"]
        rss = builds["lookup build"]["peak_rss_mib"]["max"]
        out.append(target("`lookup build` peak RSS <= the `--memory` budget + 64 MiB",
                          "%.0f MiB (%.2fx the limit)" % (rss, rss / (budget + 64)),
                          "%.0f MiB (--memory %s)" % (budget + 64, build_get["parameters"]["build_memory"]),
                          rss <= budget + 64,
                          "" if keys == big_keys else "target set for %s rows" % format(big_keys, ",")))
    return out


def md_table(header, rows):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def ratio_text(r, key):
    return "%.2f" % r[key] if key in r else "–"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, help="the directory holding size-N/")
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--invocation", required=True)
    ap.add_argument("--load-before", default="")
    ap.add_argument("--reference-keys", type=int, default=5_000_000)
    ap.add_argument("--big-keys", type=int, default=50_000_000)
    ap.add_argument("--joins", default="", help="run-joins.sh's joins.jsonl, when that step ran")
    ap.add_argument("--ranges", default="", help="run-ranges.sh's ranges.jsonl, when that step ran")
    ap.add_argument("--updates", default="", help="run-updates.sh's updates.jsonl, when that step ran")
    a = ap.parse_args()

    sizes = [int(s) for s in a.sizes.split()]
    per_size = []
    for n in sizes:
        d = os.path.join(a.results, "size-%d" % n)
        with open(os.path.join(d, "build-get.json")) as f:
            build_get = json.load(f)
        with open(os.path.join(d, "batch-join.json")) as f:
            batch = json.load(f)
        per_size.append({"keys": n, "build_get": build_get, "batch": batch,
                         "targets": targets(build_get, batch, a.reference_keys, a.big_keys)})

    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    first = per_size[0]["batch"]
    m = first["machine"]
    md = [
        "# Benchmark summary: `lookup` vs C, py-lmdb, a Python dict and mawk",
        "",
        "Command: `%s` (%s)" % (a.invocation, now.strftime("%Y-%m-%d %H:%M %Z")),
        "",
        "Machine: %d CPUs, %s, %s GiB RAM, Linux %s%s. Load average (1, 5, 15 min) before: %s; after: %s." % (
            m["nproc"], m["cpu_model"], m["mem_total_gib"], m["kernel"], ", " + m["os"] if m["os"] else "",
            a.load_before or "?", " ".join(open("/proc/loadavg").read().split()[:3])),
        "",
        "Each size ran `run.sh` (builds, `get`, point lookups) then `run-batch.sh` (the batch join); "
        "all figures are medians over the runs of that size, and every ratio is taken within one run "
        "of one script. The targets are the issue's, set for the reference workload (5M-key table, "
        "16 files x 1M lines, 2 cores, warm page cache; the build-memory target for a 50M-key table); "
        "at other sizes the same checks show how the costs grow. Details per size: "
        "`size-N/build-get.md`, `size-N/batch-join.md` (and `.json`). Chart: [summary.svg](summary.svg).",
        "",
    ]
    growth = []
    for s in per_size:
        bg, bj, n = s["build_get"], s["batch"], s["keys"]
        p = bj["parameters"]
        builds = by_label(bg["results"])
        apis = by_label(bg.get("api", []))
        md += ["## %s keys" % format(n, ","), "",
               "Table: `table.csv` %.0f MiB, `t.lmdb` %.0f MiB; join input %d files x %s lines (%.0f MiB), "
               "%.1f%% hits; runs: %d." % (
                   p["table_csv_bytes"] / 2**20, p["table_lmdb_bytes"] / 2**20, p["files"],
                   format(p["lines_per_file"], ","), p["input_bytes"] / 2**20,
                   100.0 * p["expected_hits"] / p["total_lines"], p["runs"]), ""]
        md += ["Targets:", ""] + md_table(
            ["target", "measured", "limit", "met", "note"],
            [[t["target"], t["measured"], t["limit"], "met" if t["met"] else "**NOT met**", t["note"]]
             for t in s["targets"]]) + [""]
        md += ["Batch join (lines/s and PSS against the number of workers are in the chart):", ""] + md_table(
            ["program", "W", "wall s", "M lines/s", "peak PSS MiB", "wall / lookup", "lines/s / lookup",
             "PSS / lookup"],
            [[r["label"], r["workers"], "%.2f" % r["wall_s"]["median"], "%.2f" % (r["lines_per_s"]["median"] / 1e6),
              "%.0f" % r["peak_pss_mib"]["median"], ratio_text(r, "wall_ratio_to_lookup"),
              ratio_text(r, "lines_per_s_ratio_to_lookup"), ratio_text(r, "pss_ratio_to_lookup")]
             for r in bj["results"] if r["label"] in JOIN_LABELS]) + [""]
        md += ["Builds and `get` (%s keys):" % format(bg["parameters"]["get_keys"], ","), ""] + md_table(
            ["command", "wall s", "peak PSS MiB", "peak RSS MiB", "wall / lookup", "PSS / lookup"],
            [[r["label"], "%.2f" % r["wall_s"]["median"], "%.0f" % r["peak_pss_mib"]["median"],
              "%.0f" % r["peak_rss_mib"]["max"], ratio_text(r, "wall_ratio_to_lookup"),
              ratio_text(r, "pss_ratio_to_lookup")] for r in bg["results"]]) + [""]
        if apis:
            md += ["Point lookups, the same %s keys in the same order:" % format(bg["api"][0]["keys"], ","), ""] + md_table(
                ["loop", "ns/key", "M keys/s", "ns / C mdb_get"],
                [[r["loop"], "%.1f" % r["ns_per_key"]["median"], "%.2f" % (1e3 / r["ns_per_key"]["median"]),
                  ratio_text(r, "ns_ratio_to_c")] for r in bg["api"]]) + [""]
        skipped = bg.get("skipped", []) + bj.get("skipped", [])
        if skipped:
            md += ["Skipped at this size: " + "; ".join(skipped) + ".", ""]
        ours2 = join_row(bj, "lookup join", 2)
        c2 = join_row(bj, "join_c_lmdb", 2)
        growth.append([
            format(n, ","), "%.0f" % (p["table_lmdb_bytes"] / 2**20),
            "%.2f" % builds["lookup build"]["wall_s"]["median"] if "lookup build" in builds else "–",
            "%.2f" % builds["build_c_lmdb"]["wall_s"]["median"] if "build_c_lmdb" in builds else "–",
            "%.1f" % apis["api one"]["ns_per_key"]["median"] if "api one" in apis else "–",
            "%.1f" % apis["api batch"]["ns_per_key"]["median"] if "api batch" in apis else "–",
            "%.1f" % apis["api mdb_get"]["ns_per_key"]["median"] if "api mdb_get" in apis else "–",
            "%.2f" % (ours2["lines_per_s"]["median"] / 1e6) if ours2 else "–",
            "%.2f" % (c2["lines_per_s"]["median"] / 1e6) if c2 else "–",
            "%.0f" % ours2["peak_pss_mib"]["median"] if ours2 else "–",
            "%d of %d" % (sum(t["met"] for t in s["targets"]), len(s["targets"])),
        ])
    steps = {}
    if a.joins:
        steps["joins"], section = step_section(
            a.joins, "Join kinds: one-to-many and composite keys (`run-joins.sh`)",
            lambda p: "Tables of %s rows (one-to-many: 1 to 5 rows a key), %d files x %s lines a job, `lookup run -j %d` "
                      "vs DuckDB and Polars with %d threads, medians of %d runs. Details: [joins.md](joins.md)." % (
                          format(p["table_rows"], ","), p["files"], format(p["lines_per_file"], ","), p["workers"],
                          p["workers"], p["runs"]))
        md += section
        md[0] = md[0].replace(" and mawk", ", mawk, DuckDB and Polars")
    if a.ranges:
        steps["ranges"], section = step_section(
            a.ranges, "Range lookups: IPv4 ranges and CIDR blocks (`run-ranges.sh`)",
            lambda p: "Tables of %s rows (%s), %d files x %s lines a job, `lookup run -j %d` vs DuckDB (%d threads, "
                      "`BETWEEN` join) and maxminddb (a pool of %d processes), and vs lookup's W1 exact-match join "
                      "(%s-row table, the same input size); medians of %d runs. Details: [ranges.md](ranges.md)." % (
                          format(p["table_rows"], ","), " and ".join(p["jobs"]), p["files"],
                          format(p["lines_per_file"], ","), p["workers"], p["workers"], p["workers"],
                          format(p["w1_keys"], ","), p["runs"]))
        md += section
        md[0] = md[0].replace(" and Polars", ", Polars and maxminddb").replace(" and mawk", ", mawk and maxminddb")
    if a.updates:
        steps["updates"], section = step_section(
            a.updates, "Table updates: `lookup update` against a full build (`run-updates.sh`)",
            lambda p: "An update of %s%% of the %s-row W1 table%s, against `lookup build` of the table; the W1 join "
                      "(`lookup run -j %d`, %d files x %s lines) through the updated table against a fresh one of the "
                      "same contents; medians of %d runs. Details: [updates.md](updates.md)." % (
                          p["change_percent"].get("w1", "?"), format(p["w1_keys"], ","),
                          " and of %s%% of a %s-row table" % (p["change_percent"]["big"], format(p["expected"]["big"]["rows_before"], ","))
                          if "big" in p["change_percent"] else "", p["workers"], p["files"],
                          format(p["lines_per_file"], ","), p["runs"]))
        md += section
    md += ["## Growth with table size", ""] + md_table(
        ["keys", "t.lmdb MiB", "lookup build s", "C build s", "API one ns/key", "API batch ns/key",
         "C mdb_get ns/key", "lookup join -j 2 M lines/s", "C join -j 2 M lines/s", "lookup -j 2 PSS MiB",
         "targets met"], growth) + [""]

    chart([s["batch"] for s in per_size], os.path.join(a.results, "summary.svg"))
    result = {"benchmark": "summary", "date": now.isoformat(timespec="seconds"), "command": a.invocation,
              "machine": m, "sizes": [{"keys": s["keys"], "targets": s["targets"],
                                       "build_get": s["build_get"]["results"], "api": s["build_get"].get("api", []),
                                       "batch_join": s["batch"]["results"],
                                       "skipped": s["build_get"].get("skipped", []) + s["batch"].get("skipped", []),
                                       "parameters": {"build_get": s["build_get"]["parameters"],
                                                      "batch_join": s["batch"]["parameters"]}}
                                      for s in per_size]}
    result.update(steps)
    with open(os.path.join(a.results, "summary.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(a.results, "summary.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("\n".join(md))
    print("\nwrote %s/summary.md, summary.json and summary.svg" % a.results)


if __name__ == "__main__":
    main()
