#!/usr/bin/env python3
"""Workload generator for the lookup benchmarks (standard library only).

    gen.py OUT [--keys N] [--files F] [--lines L] [--hit 0.5] [--get-keys M] [--seed 1]

Writes into OUT:
  table.csv              N lines `key,value`, in no particular key order. Keys are 16
                         lower-case hex digits, all distinct; values look like
                         `US|seg123|0.1234`.
  input/part-0000.csv .. F files of L lines `key,int,filler`; a fraction --hit of the
                         lines carry a key of the table, the rest a key that is not in it.
  keys.txt               M keys, one per line, in random order; a fraction --hit of them
                         are table keys (drawn with replacement), the rest are absent.
  params.json            the parameters, so a caller can tell whether OUT is reusable.

Keys come from a 40-bit index put through a bijection of the 40-bit space (so the N
table keys are distinct without a set to check them against) and doubled: table keys
are even, and absent keys are odd, so an absent key can never hit by accident. The
output depends only on the parameters (same seed, same files).
"""
import argparse
import json
import os
import random
import sys

BITS = 40
MASK = (1 << BITS) - 1
MUL1 = 0x9E3779B97F & MASK | 1  # odd multipliers are invertible mod 2^40
MUL2 = 0xC2B2AE3D27 & MASK | 1
COUNTRIES = ("US", "DE", "FR", "JP", "BR", "IN", "GB", "NL", "SE", "KR")
CHUNK = 1 << 16


def scramble(i, salt):
    """A bijection on [0, 2^40): xor-shift / odd-multiply rounds."""
    x = (i ^ salt) & MASK
    x = (x * MUL1) & MASK
    x ^= x >> 23
    x = (x * MUL2) & MASK
    x ^= x >> 19
    return x


def table_key(i, salt):
    return scramble(i, salt) << 1  # even


def write_chunks(path, produce, total):
    """produce(start, count) -> str; written in CHUNK-sized pieces."""
    tmp = path + ".tmp"
    with open(tmp, "w", buffering=1 << 20) as f:
        for start in range(0, total, CHUNK):
            f.write(produce(start, min(CHUNK, total - start)))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--keys", type=int, default=1_000_000, help="table rows (default 1000000)")
    ap.add_argument("--files", type=int, default=8, help="input files (default 8)")
    ap.add_argument("--lines", type=int, default=200_000, help="lines per input file (default 200000)")
    ap.add_argument("--hit", type=float, default=0.5, help="fraction of input lines / get keys present (default 0.5)")
    ap.add_argument("--get-keys", type=int, default=1_000_000, help="keys in keys.txt (default 1000000; 0: none)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.keys < 1 or a.keys > 1 << 39:
        sys.exit("gen.py: --keys must be between 1 and 2^39")
    if a.files < 0 or a.lines < 0 or a.get_keys < 0 or not 0.0 <= a.hit <= 1.0:
        sys.exit("gen.py: bad --files/--lines/--get-keys/--hit")

    os.makedirs(a.out, exist_ok=True)
    rnd = random.Random(a.seed)
    salt = rnd.getrandbits(BITS)
    n = a.keys
    getbits = rnd.getrandbits
    rand = rnd.random
    below = rnd.randrange

    # table.csv: row i holds table_key(i); the value comes from 64 random bits.
    def table_rows(start, count):
        out = []
        for i in range(start, start + count):
            r = getbits(64)
            out.append("%016x,%s|seg%03d|0.%04d\n" % (
                table_key(i, salt), COUNTRIES[r % 10], (r >> 8) % 1000, (r >> 20) % 10000))
        return "".join(out)

    write_chunks(os.path.join(a.out, "table.csv"), table_rows, n)

    def some_key():
        if rand() < a.hit:
            return table_key(below(n), salt)
        return (getbits(BITS) << 1) | 1  # odd: never a table key

    # input/part-XXXX.csv: key,int,filler
    if a.files:
        os.makedirs(os.path.join(a.out, "input"), exist_ok=True)
    filler = ["x" * k for k in range(41)]

    def input_rows(start, count):
        return "".join("%016x,%d,%s\n" % (some_key(), below(1_000_000), filler[8 + below(32)])
                       for _ in range(count))

    for p in range(a.files):
        write_chunks(os.path.join(a.out, "input", "part-%04d.csv" % p), input_rows, a.lines)

    # keys.txt: keys for `get`, in random order (draws are independent, so already shuffled).
    def get_rows(start, count):
        return "".join("%016x\n" % some_key() for _ in range(count))

    write_chunks(os.path.join(a.out, "keys.txt"), get_rows, a.get_keys)

    params = {"keys": a.keys, "files": a.files, "lines": a.lines, "hit": a.hit,
              "get_keys": a.get_keys, "seed": a.seed, "generator": "Benchmarks/gen.py v1"}
    with open(os.path.join(a.out, "params.json"), "w") as f:
        json.dump(params, f, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
