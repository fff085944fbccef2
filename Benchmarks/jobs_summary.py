"""jobs_summary: what the job benchmarks' summaries (summarize_joins.py, summarize_ranges.py)
share: a program's medians over its runs, markdown tables, and the machine's description."""
import os
import platform
import statistics

from summarize_batch import cpu_model, mem_total_gib


def command(commands, job, label, w):
    """The command of LABEL in JOB, from COMMANDS keyed by (job, label) or ("*", label)."""
    text = commands.get((job, label)) or commands[("*", label)]
    return text.format(job=job, w=w)


def summarize(rows, lines=None):
    """Medians (and spreads) of one program's measured runs; with LINES, its lines per second."""
    walls = [r["wall_s"] for r in rows]
    med = lambda key: round(statistics.median(r.get(key, 0) for r in rows), 1)  # noqa: E731
    wall = statistics.median(walls)
    summary = {
        "runs": len(rows),
        "wall_s": {"median": wall, "min": min(walls), "max": max(walls), "all": walls},
    }
    if lines is not None:
        summary["lines_per_s"] = {"median": round(lines / wall) if lines and wall else None}
    summary.update({
        "peak_pss_mib": {"median": med("peak_pss_mib"), "all": [r["peak_pss_mib"] for r in rows]},
        "peak_rss_mib": {"median": med("peak_rss_mib")},
        "peak_pss_anon_mib": {"median": med("peak_pss_anon_mib")},
        "peak_pss_file_mib": {"median": med("peak_pss_file_mib")},
        "max_rss_mib": {"median": med("max_rss_mib")},
        "cpu_s": {"median": round(statistics.median(r["user_s"] + r["sys_s"] for r in rows), 2)},
        "procs": max(r.get("procs", 0) for r in rows),
    })
    return summary


def targets(records):
    """The target records among OUT.jsonl's (for summarize_all.py)."""
    return [r for r in records if r.get("record") == "target"]


def md_table(header, rows):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def report_header(title, a, now, machine, peers=""):
    """A report's first lines: its title, the command and commit, the machine with the load
    around the runs, and the versions (`peers`: the peers' own, like "DuckDB 1.1")."""
    return [
        title,
        "",
        "Command: `%s` (%s). Git %s%s." % (a.invocation, now.strftime("%Y-%m-%d %H:%M %Z"), a.git,
                                           " (%d files modified)" % a.git_dirty if a.git_dirty else ""),
        "",
        "Machine: %d CPUs, %s, %s GiB RAM, Linux %s%s. Load average (1, 5, 15 min) before: %s; after: %s. "
        "Versions: %s%s%s." % (
            machine["nproc"], machine["cpu_model"], machine["mem_total_gib"], machine["kernel"],
            ", " + machine["os"] if machine["os"] else "", a.load_before or "?", a.load_after or "?",
            a.python_version, ", " + peers if peers else "", ", " + a.swift_version if a.swift_version else ""),
    ]


def machine(load_before, load_after):
    """The machine the runs were measured on, with the load averages around them."""
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu_model(), "mem_total_gib": mem_total_gib(),
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "") if hasattr(platform, "freedesktop_os_release") else "",
        "load_average_before": load_before.split() or None, "load_average_after": load_after.split() or None,
    }
