#!/usr/bin/env python3
"""Turns the serve benchmark's measurements into results/serve.md and results/serve.json.

    summarize_serve.py MEASUREMENTS.jsonl CONTEXT.json OUT_DIR

Each measurement line: {"server", "run", "load1_before", "server_cpu_s", "wrk": {requests,
duration_us, errors{...}, latency_us{mean,p50,p90,p99,max}}}. CONTEXT holds the parameters,
machine, versions and command. Called by run-serve.sh.
"""
import json
import statistics
import sys


def main():
    raw_path, context_path, out_dir = sys.argv[1:4]
    rows = [json.loads(line) for line in open(raw_path) if line.strip()]
    context = json.load(open(context_path))
    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])

    summary = {}
    for s in servers:
        mine = [r for r in rows if r["server"] == s]
        rps = [r["wrk"]["requests"] / (r["wrk"]["duration_us"] / 1e6) for r in mine]
        p99 = [r["wrk"]["latency_us"]["p99"] / 1000 for r in mine]
        p50 = [r["wrk"]["latency_us"]["p50"] / 1000 for r in mine]
        errors = sum(sum(r["wrk"]["errors"].values()) for r in mine)
        requests = sum(r["wrk"]["requests"] for r in mine)
        cpu_per_10k = [r["server_cpu_s"] / r["wrk"]["requests"] * 10000 for r in mine if r["wrk"]["requests"]]
        summary[s] = {
            "runs": len(mine), "requests": requests, "errors": errors,
            "rps_median": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "p99_ms_median": statistics.median(p99), "p99_ms_max": max(p99),
            "p50_ms_median": statistics.median(p50),
            "server_cpu_s_per_10k_median": statistics.median(cpu_per_10k) if cpu_per_10k else None,
        }
    base = summary[servers[0]]

    p = context["params"]
    md = []
    md.append("# Serve benchmark: `lookup serve` vs a minimal Python service")
    md.append("")
    md.append("`wrk` on loopback, `GET /v1/keys/{key}` of keys drawn at random from the table (every")
    md.append("request a hit, so any non-200 answer counts as an error). %d-row table, wrk %d threads, %d"
              % (p["keys"], p["threads"], p["connections"]))
    md.append("connections, %d s per run, %d runs interleaved, after a %d s warm-up of each server." %
              (p["duration"], p["runs"], p["warmup"]))
    md.append("")
    md.append("| server | median req/s | min | max | median p99 ms | max p99 ms | median p50 ms | errors | server CPU s / 10k req | req/s / lookup |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    for s in servers:
        m = summary[s]
        cpu = "%.2f" % m["server_cpu_s_per_10k_median"] if m["server_cpu_s_per_10k_median"] is not None else "-"
        md.append("| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %d of %d | %s | %.2f |" % (
            s, m["rps_median"], m["rps_min"], m["rps_max"], m["p99_ms_median"], m["p99_ms_max"],
            m["p50_ms_median"], m["errors"], m["requests"], cpu, m["rps_median"] / base["rps_median"]))
    md.append("")
    md.append("- **errors**: wrk's connect, read, write and timeout errors plus non-2xx answers, over all runs.")
    md.append("- **server CPU s / 10k req**: user + system CPU of the server process during the runs, per")
    md.append("  10,000 requests (wrk itself shares the 2 cores, so req/s is bounded by both).")
    md.append("- **req/s / lookup**: the row's median req/s divided by `lookup serve`'s.")
    md.append("")
    md.append("Servers:")
    md.append("")
    for s, how in context["servers"].items():
        md.append("- `%s`: %s" % (s, how))
    md.append("")
    md.append("Machine: %s, %s CPUs, %s; load average %s before, %s after. Date: %s." % (
        context["machine"]["cpu"], context["machine"]["cpus"], context["machine"]["memory"],
        context["load_before"], context["load_after"], context["date"]))
    md.append("Versions: %s." % ", ".join("%s %s" % kv for kv in context["versions"].items()))
    md.append("")
    md.append("Command: `%s`" % context["command"])
    md.append("")
    md.append("Per run (req/s, p99 ms, errors):")
    md.append("")
    md.append("| run | " + " | ".join(servers) + " |")
    md.append("|---|" + "---|" * len(servers))
    for run in sorted({r["run"] for r in rows}):
        cells = []
        for s in servers:
            r = next((x for x in rows if x["server"] == s and x["run"] == run), None)
            if r is None:
                cells.append("-")
                continue
            w = r["wrk"]
            cells.append("%.0f, %.2f, %d (load %s)" % (w["requests"] / (w["duration_us"] / 1e6), w["latency_us"]["p99"] / 1000,
                                                       sum(w["errors"].values()), r["load1_before"]))
        md.append("| %d | %s |" % (run, " | ".join(cells)))
    md.append("")
    open(out_dir + "/serve.md", "w").write("\n".join(md))
    json.dump({"context": context, "summary": summary, "measurements": rows}, open(out_dir + "/serve.json", "w"), indent=1)
    print("\n".join(md[6:6 + 2 + len(servers)]))


if __name__ == "__main__":
    main()
