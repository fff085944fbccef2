#!/usr/bin/env python3
"""Workload generator for the range-lookup benchmark (issue 14, run-ranges.sh): a table of
disjoint IPv4 ranges, a table of disjoint CIDR blocks, and for each its join input files.
Standard library only; the output depends only on the parameters (same seed, same bytes).

    gen_ranges.py OUT [--rows N] [--files F] [--lines L] [--hit 0.5] [--seed 1] [--jobs "ranges cidr"]

    Benchmarks/gen_ranges.py Benchmarks/work/tiny-ranges --rows 20000 --files 2 --lines 10000   # tiny

Writes into OUT (for each job in --jobs):

  ranges.csv          N rows `start,end,country,asn,org`, e.g. `81.2.69.0,81.2.69.255,DE,3320,
                      Cedar Telecom GmbH`: start and end IPv4 addresses in dotted form, both
                      inclusive, the ranges disjoint. Each range is an aligned block of 2^s
                      addresses (s from 0, a /32, to 20, a /12; small blocks far more common:
                      P(s) ~ 0.72^s), a third of them extended by a random number of addresses
                      below 2^s (so they are not CIDR blocks). Before about half of the ranges
                      lies a gap (a block-sized run of addresses in no range); the others start
                      right after the previous one. From 1.0.0.0 up; at 1M rows the ranges
                      cover about 37% of the space (about 1,600 addresses a range) and split
                      into about 1.5 CIDR blocks a range. The rows are written shuffled, so the
                      builder has to sort them.
  ranges-input/part-XXXX.csv
                      F files of L lines `ip,int,filler` (gen.py's W1 input lines with an IPv4
                      address as the key); a fraction --hit of the lines carry an address
                      inside a range (a range drawn uniformly, then an address in it), the rest
                      an address in no range (uniform over the space, redrawn while it hits).
  cidr.csv            N rows `network/len,country,asn,org`, e.g. `10.64.0.0/14,US,7018,...`:
                      disjoint CIDR blocks laid out like the ranges (without the extensions).
  cidr-input/part-XXXX.csv
                      as ranges-input, for the CIDR blocks.
  expected.json       per job: table rows, addresses covered, the CIDR blocks the table makes
                      (the ranges split into the fewest aligned blocks), input lines and the
                      lines that hit (an inner join writes one output line per hit).
  params.json         the parameters, so a caller can tell whether OUT is reusable.

No field holds a comma or a quote, so every program's CSV output compares as text. An input
line hits exactly one row (the ranges are disjoint); its output line is `LINE,country,asn,org`.
"""
import argparse
import bisect
import json
import os
import random
import sys
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import write_chunks  # noqa: E402

GENERATOR = "Benchmarks/gen_ranges.py v1"
SPACE = 1 << 32
FIRST = 1 << 24       # the ranges start at 1.0.0.0
MAX_EXP = 20          # a /12
RATIO = 0.72          # P(s) ~ RATIO^s
FILLER = ["x" * k for k in range(41)]
COUNTRIES = ("US", "CN", "DE", "JP", "GB", "FR", "BR", "KR", "IN", "NL", "IT", "CA", "RU", "AU",
             "ES", "SE", "PL", "MX", "ZA", "SG", "TW", "AR", "TR", "ID", "VN", "CH", "BE", "AT")
ORG_A = ("Alpha", "Blue", "Cedar", "Delta", "Echo", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
         "Kestrel", "Lumen", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz", "River", "Summit",
         "Tundra", "Unity", "Vertex", "Willow", "Zenith")
ORG_B = ("Telecom", "Networks", "Broadband", "Cloud", "Hosting", "Communications", "Internet",
         "Datacenter", "Mobile", "Fiber", "Online", "Digital")
ORG_C = ("Inc", "LLC", "Ltd", "GmbH", "SA", "AB", "KK", "BV", "SpA", "Pty Ltd", "Co")


def dotted(x):
    return "%d.%d.%d.%d" % (x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255)


def value(r):
    """`country,asn,org` from random bits r."""
    return "%s,%d,%s %s %s" % (COUNTRIES[r % len(COUNTRIES)], 1 + (r >> 8) % 400000,
                               ORG_A[(r >> 28) % len(ORG_A)], ORG_B[(r >> 36) % len(ORG_B)],
                               ORG_C[(r >> 44) % len(ORG_C)])


def exponent(rnd):
    """s in 0..MAX_EXP with P(s) ~ RATIO^s."""
    while True:
        s = 0
        while rnd.random() < RATIO:
            s += 1
        if s <= MAX_EXP:
            return s


def cidr_count(start, end):
    """The number of CIDR blocks [start, end] splits into (the fewest aligned blocks)."""
    n = 0
    while start <= end:
        size = start & -start if start else SPACE
        while start + size - 1 > end:
            size >>= 1
        start += size
        n += 1
    return n


def layout(rnd, rows, extend):
    """rows disjoint intervals in address order: (starts, ends) arrays, both inclusive."""
    exps = array("B", (exponent(rnd) for _ in range(rows)))
    # Blocks, gaps and alignment take about 2.2x the blocks' sum: cap the largest blocks
    # until that fits in the address space (only for tables far above a million rows).
    cap = MAX_EXP
    while sum(1 << min(s, cap) for s in exps) * 2.2 > SPACE - FIRST:
        cap -= 1
        if cap < 0:
            sys.exit("gen_ranges.py: --rows too large for the IPv4 space")
    starts, ends = array("Q"), array("Q")
    cursor = FIRST
    for s in exps:
        s = min(s, cap)
        size = 1 << s
        if rnd.random() < 0.5:  # a gap before this block
            cursor += 1 << min(exponent(rnd), cap)
        cursor = (cursor + size - 1) & ~(size - 1)  # aligned
        end = cursor + size - 1
        if extend and s > 0 and rnd.random() < 1 / 3:
            end += 1 + rnd.randrange(size - 1)
        starts.append(cursor)
        ends.append(end)
        cursor = end + 1
    if cursor > SPACE:
        sys.exit("gen_ranges.py: the ranges do not fit in the IPv4 space; use a smaller --rows")
    return starts, ends


def gen_job(out, job, rows, files, lines, hit, seed):
    rnd = random.Random("%s-%d" % (job, seed))
    starts, ends = layout(rnd, rows, extend=(job == "ranges"))
    getbits, below, rand = rnd.getrandbits, rnd.randrange, rnd.random
    order = array("I", range(rows))
    rnd.shuffle(order)
    if job == "ranges":
        def row(i):
            return "%s,%s,%s\n" % (dotted(starts[i]), dotted(ends[i]), value(getbits(64)))
    else:
        def row(i):
            size = ends[i] - starts[i] + 1
            return "%s/%d,%s\n" % (dotted(starts[i]), 32 - size.bit_length() + 1, value(getbits(64)))

    def table_rows(start, count):
        return "".join(row(order[i]) for i in range(start, start + count))

    write_chunks(os.path.join(out, job + ".csv"), table_rows, rows)
    del order

    in_dir = os.path.join(out, job + "-input")
    os.makedirs(in_dir, exist_ok=True)
    hits = [0]

    def input_rows(start, count):
        parts = []
        for _ in range(count):
            if rand() < hit:
                i = below(rows)
                ip = starts[i] + below(ends[i] - starts[i] + 1)
                hits[0] += 1
            else:
                while True:  # an address in no range
                    ip = getbits(32)
                    i = bisect.bisect_right(starts, ip) - 1
                    if i < 0 or ip > ends[i]:
                        break
            parts.append("%s,%d,%s\n" % (dotted(ip), below(1_000_000), FILLER[8 + below(32)]))
        return "".join(parts)

    for p in range(files):
        write_chunks(os.path.join(in_dir, "part-%04d.csv" % p), input_rows, lines)
    covered = sum(ends) - sum(starts) + rows
    return {"table_rows": rows, "covered_addresses": covered,
            "covered_fraction": round(covered / SPACE, 4),
            "cidr_blocks": sum(cidr_count(s, e) for s, e in zip(starts, ends)),
            "lines": files * lines, "hit_lines": hits[0], "output_lines": hits[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of each table (default 1000000)")
    ap.add_argument("--files", type=int, default=16, help="input files per job (default 16)")
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines per input file (default 1000000)")
    ap.add_argument("--hit", type=float, default=0.5, help="fraction of input lines that hit (default 0.5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", default="ranges cidr", help='which workloads (default "ranges cidr")')
    a = ap.parse_args()
    jobs = a.jobs.split()
    if not jobs or any(j not in ("ranges", "cidr") for j in jobs):
        sys.exit("gen_ranges.py: --jobs takes ranges and/or cidr")
    if not 1 <= a.rows <= 1 << 26 or a.files < 1 or a.lines < 1 or not 0.0 <= a.hit <= 1.0:
        sys.exit("gen_ranges.py: bad --rows/--files/--lines/--hit")

    os.makedirs(a.out, exist_ok=True)
    expected = {job: gen_job(a.out, job, a.rows, a.files, a.lines, a.hit, a.seed) for job in jobs}
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(expected, f, sort_keys=True)
        f.write("\n")
    params = {"rows": a.rows, "files": a.files, "lines": a.lines, "hit": a.hit, "seed": a.seed,
              "jobs": jobs, "generator": GENERATOR}
    with open(os.path.join(a.out, "params.json"), "w") as f:
        json.dump(params, f, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
