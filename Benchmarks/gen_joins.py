#!/usr/bin/env python3
"""Workload generator for the join-kinds benchmark (run-joins.sh): a one-to-many table and a
composite-key table, each with its own join input files. Standard library only; the output
depends only on the parameters (same seed, same bytes).

    gen_joins.py OUT [--rows N] [--files F] [--lines L] [--hit 0.5] [--seed 1] [--jobs "many comp"]

    Benchmarks/gen_joins.py Benchmarks/work/tiny --rows 20000 --files 2 --lines 10000   # tiny

Writes into OUT (for each job in --jobs):

  many.csv            N rows `key,value,id` over about N/3 distinct keys: each key has 1 to 5
                      rows (uniform, so 3 on average), the rows of all keys shuffled, so a
                      key's rows are not adjacent. Keys are 16 lower-case hex digits, even
                      (as gen.py's table keys); values look like `US|seg123|0.1234`; `id` is
                      the row's 1-based line number, so the table order of a key's values
                      shows in any output.
  many-input/part-XXXX.csv
                      F files of L lines `key,int,filler` (gen.py's W1 input lines); a fraction
                      --hit of the lines carry a table key (drawn uniformly over the distinct
                      keys), the rest an odd key that is never in the table.
  comp.csv            N rows `customer,month,value,amount`, every (customer, month) pair
                      distinct: about N/4 customers `cu` + 10 hex digits, each with 1 to 7
                      consecutive months `YYYY-MM` out of the 60 of 2021-2025; rows shuffled.
  comp-input/part-XXXX.csv
                      F files of L lines `customer,month,int,filler`; a fraction --hit of
                      the lines carry a pair of the table; of the others, half a known
                      customer with a month it does not have, half an unknown customer.
  expected.json       per job: input lines, lines that hit, and output lines of an inner join
                      (one-to-many: the sum over the hitting lines of their key's row count).
  params.json         the parameters, so a caller can tell whether OUT is reusable.

No field holds a comma or a quote, so every program's CSV output compares as text.
"""
import argparse
import json
import os
import random
import sys
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import BITS, COUNTRIES, scramble, table_key, write_chunks  # noqa: E402

GENERATOR = "Benchmarks/gen_joins.py v1"
MONTHS = ["%04d-%02d" % (2021 + m // 12, 1 + m % 12) for m in range(60)]
FILLER = ["x" * k for k in range(41)]


def value(r):
    """A W1-like value `US|seg123|0.1234` from random bits r."""
    return "%s|seg%03d|0.%04d" % (COUNTRIES[r % 10], (r >> 8) % 1000, (r >> 20) % 10000)


def counts_summing_to(rnd, n, most):
    """Counts 1..most (uniform) until they sum to n (the last one cut to fit)."""
    counts = array("B")
    total = 0
    while total < n:
        c = min(1 + rnd.randrange(most), n - total)
        counts.append(c)
        total += c
    return counts


def shuffled_rows(rnd, counts, shift):
    """One entry (owner << shift | j) per row, j < counts[owner], in random order."""
    rows = array("Q")
    for owner, c in enumerate(counts):
        base = owner << shift
        rows.extend(range(base, base + c))
    rnd.shuffle(rows)
    return rows


def input_files(out_dir, files, lines, make_line):
    """F files part-XXXX.csv of L lines; make_line() -> (text, output lines it yields)."""
    os.makedirs(out_dir, exist_ok=True)
    totals = {"lines": files * lines, "hit_lines": 0, "output_lines": 0}

    def produce(start, count):
        parts = []
        for _ in range(count):
            text, outs = make_line()
            parts.append(text)
            if outs:
                totals["hit_lines"] += 1
                totals["output_lines"] += outs
        return "".join(parts)

    for p in range(files):
        write_chunks(os.path.join(out_dir, "part-%04d.csv" % p), produce, lines)
    return totals


def gen_many(out, rows, files, lines, hit, seed):
    rnd = random.Random("many-%d" % seed)
    salt = rnd.getrandbits(BITS)
    counts = counts_summing_to(rnd, rows, 5)
    keys = len(counts)
    order = shuffled_rows(rnd, counts, 3)
    getbits, below, rand = rnd.getrandbits, rnd.randrange, rnd.random

    def table_rows(start, count):
        return "".join("%016x,%s,%d\n" % (table_key(order[i] >> 3, salt), value(getbits(64)), i + 1)
                       for i in range(start, start + count))

    write_chunks(os.path.join(out, "many.csv"), table_rows, rows)
    del order

    def make_line():
        if rand() < hit:
            k = below(keys)
            key, outs = table_key(k, salt), counts[k]
        else:
            key, outs = (getbits(BITS) << 1) | 1, 0  # odd: never a table key
        return "%016x,%d,%s\n" % (key, below(1_000_000), FILLER[8 + below(32)]), outs

    totals = input_files(os.path.join(out, "many-input"), files, lines, make_line)
    totals.update(table_rows=rows, distinct_keys=keys)
    return totals


def gen_comp(out, rows, files, lines, hit, seed):
    rnd = random.Random("comp-%d" % seed)
    salt = rnd.getrandbits(BITS)
    counts = counts_summing_to(rnd, rows, 7)  # months per customer
    customers = len(counts)
    first = array("B", (rnd.randrange(60) for _ in range(customers)))  # first month, wraps
    order = shuffled_rows(rnd, counts, 3)
    getbits, below, rand = rnd.getrandbits, rnd.randrange, rnd.random

    def customer(c):
        return "cu%010x" % scramble(c, salt)  # a bijection: distinct for distinct c

    def table_rows(start, count):
        out_rows = []
        for i in range(start, start + count):
            c, j = order[i] >> 3, order[i] & 7
            r = getbits(64)
            out_rows.append("%s,%s,%s,%d\n" % (customer(c), MONTHS[(first[c] + j) % 60], value(r), (r >> 34) % 100000))
        return "".join(out_rows)

    write_chunks(os.path.join(out, "comp.csv"), table_rows, rows)
    del order

    def make_line():
        if rand() < hit:
            c = below(customers)
            k1, k2, outs = customer(c), MONTHS[(first[c] + below(counts[c])) % 60], 1
        elif rand() < 0.5:  # a known customer, a month it does not have
            c = below(customers)
            k1, k2, outs = customer(c), MONTHS[(first[c] + counts[c] + below(60 - counts[c])) % 60], 0
        else:  # a customer not in the table (indices from `customers` on scramble elsewhere)
            k1, k2, outs = customer(customers + below((1 << (BITS - 1)))), MONTHS[below(60)], 0
        return "%s,%s,%d,%s\n" % (k1, k2, below(1_000_000), FILLER[8 + below(32)]), outs

    totals = input_files(os.path.join(out, "comp-input"), files, lines, make_line)
    totals.update(table_rows=rows, customers=customers)
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=5_000_000, help="rows of each table (default 5000000)")
    ap.add_argument("--files", type=int, default=16, help="input files per job (default 16)")
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines per input file (default 1000000)")
    ap.add_argument("--hit", type=float, default=0.5, help="fraction of input lines that hit (default 0.5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", default="many comp", help='which workloads (default "many comp")')
    a = ap.parse_args()
    jobs = a.jobs.split()
    if not jobs or any(j not in ("many", "comp") for j in jobs):
        sys.exit("gen_joins.py: --jobs takes many and/or comp")
    if not 1 <= a.rows <= 1 << 36 or a.files < 1 or a.lines < 1 or not 0.0 <= a.hit <= 1.0:
        sys.exit("gen_joins.py: bad --rows/--files/--lines/--hit")

    os.makedirs(a.out, exist_ok=True)
    expected = {}
    for job in jobs:
        make = gen_many if job == "many" else gen_comp
        expected[job] = make(a.out, a.rows, a.files, a.lines, a.hit, a.seed)
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
