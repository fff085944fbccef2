#!/usr/bin/env python3
"""Run one command and report its wall time and peak memory as one JSON line.

    measure.py [--label L] [--stdin FILE] [--stdout FILE] [--interval S] -- CMD ARG...

While CMD runs, every --interval seconds (default 0.02) this finds CMD's whole process
tree (CMD and all its descendants, from the ppid field of /proc/*/stat) and reads
/proc/PID/smaps_rollup of each member. It keeps the largest sums seen:

  peak_pss_mib  sum of Pss over the tree. PSS charges each page 1/k to each of the k
                processes mapping it, so the sum counts a shared page (an LMDB map, a
                shared library) once: it is the memory the tree really holds, the page
                cache it maps included.
  peak_rss_mib  sum of Rss over the tree: shared pages counted once per process.
  peak_pss_anon_mib, peak_pss_file_mib
                the two parts of PSS, each with its own peak: anonymous memory (heap,
                stacks) and file pages (the mapped table, binaries, libraries).

A sample during which a member exited is discarded (samples_discarded): the exiting process's
share of the shared pages moves to the members read after it, so that sample would count
them twice.

Also reported: max_rss_mib (the kernel's high-water mark of the largest single process,
from wait4's ru_maxrss, which catches peaks shorter than the sampling interval), user
and system CPU seconds of the tree, the number of samples and the exit status. The
command's stdin/stdout can be redirected from/to files, so no shell joins the tree.
Exit status of measure.py: CMD's own (or 2 if it could not be started).
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone already
        # the comm field may hold spaces or parentheses: split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def process_tree(root):
    kids = children_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(kids.get(pid, ()))
    return tree


def rollup(pid):
    """(pss, rss, pss_anon, pss_file) of one process in KiB; zeros when it has exited."""
    got = {b"Pss:": 0, b"Rss:": 0, b"Pss_Anon:": 0, b"Pss_File:": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid, "rb") as f:
            for line in f:
                field = line.split(None, 1)[0] if line.strip() else b""
                if field in got:
                    got[field] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return got[b"Pss:"], got[b"Rss:"], got[b"Pss_Anon:"], got[b"Pss_File:"]


def main():
    ap = argparse.ArgumentParser(usage="measure.py [options] -- CMD ARG...")
    ap.add_argument("--label", default=None)
    ap.add_argument("--stdin", default=None, help="file for the command's standard input")
    ap.add_argument("--stdout", default=None, help="file for the command's standard output")
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")

    stdin = open(a.stdin, "rb") if a.stdin else None
    stdout = open(a.stdout, "wb") if a.stdout else None
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout)
    except OSError as e:
        print("measure.py: %s: %s" % (cmd[0], e), file=sys.stderr)
        return 2
    # A thread blocks in wait4 so the end time is exact; this thread samples meanwhile.
    # Until wait4 reaps it, an exited child stays a zombie and its pid cannot be reused.
    done = threading.Event()
    reaped = {}

    def reap():
        _, status, usage = os.wait4(proc.pid, 0)
        reaped.update(end=time.monotonic(), status=status, usage=usage)
        done.set()

    threading.Thread(target=reap, daemon=True).start()
    peak_pss = peak_rss = peak_anon = peak_file = peak_procs = samples = 0
    discarded = 0
    while not done.is_set():
        tree = process_tree(proc.pid)
        sums = [rollup(p) for p in tree]
        # A member that exits during a sample hands its share of the shared pages (the
        # mapped table) to the members read after it, so that sample counts them twice:
        # keep only samples whose members all still hold their memory once all were read.
        if any(s[0] > 0 and rollup(p)[0] == 0 for p, s in zip(tree, sums)):
            discarded += 1
            done.wait(a.interval)
            continue
        peak_pss = max(peak_pss, sum(s[0] for s in sums))
        peak_rss = max(peak_rss, sum(s[1] for s in sums))
        peak_anon = max(peak_anon, sum(s[2] for s in sums))
        peak_file = max(peak_file, sum(s[3] for s in sums))
        peak_procs = max(peak_procs, len(tree))
        samples += 1
        done.wait(a.interval)
    wall = reaped["end"] - t0
    usage = reaped["usage"]
    proc.returncode = os.waitstatus_to_exitcode(reaped["status"])
    for f in (stdin, stdout):
        if f:
            f.close()
    result = {
        "label": a.label or os.path.basename(cmd[0]),
        "cmd": cmd,
        "wall_s": round(wall, 4),
        "peak_pss_mib": round(peak_pss / 1024, 1),
        "peak_rss_mib": round(peak_rss / 1024, 1),
        "peak_pss_anon_mib": round(peak_anon / 1024, 1),
        "peak_pss_file_mib": round(peak_file / 1024, 1),
        "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "user_s": round(usage.ru_utime, 3),
        "sys_s": round(usage.ru_stime, 3),
        "procs": peak_procs,
        "samples": samples,
        "samples_discarded": discarded,
        "exit": proc.returncode,
    }
    print(json.dumps(result), flush=True)
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


if __name__ == "__main__":
    sys.exit(main())
