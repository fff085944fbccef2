#!/usr/bin/env python3
"""The straightforward py-lmdb table builder the benchmark compares `lookup build` with.

    build_py_lmdb.py TABLE.csv OUT.lmdb

Reads TABLE.csv (lines `key,value`, no quoting) into a list of [key, value] pairs, sorts
it (by key: the keys are distinct), then puts every pair with `append=True` in one write
transaction into the main database of a single-file environment (`subdir=False`, no lock
file), committed and synced once at the end. Prints the number of records.
Needs `pip install lmdb`.
"""
import os
import sys

import lmdb


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: build_py_lmdb.py TABLE.csv OUT.lmdb")
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        rows = [line.rstrip(b"\r\n").split(b",", 1) for line in f if line.strip()]
    rows.sort()
    # The map must hold the B+tree: a few times the CSV, with room for page overhead.
    map_size = 4 * os.path.getsize(src) + (64 << 20)
    env = lmdb.open(dst, map_size=map_size, subdir=False, lock=False, sync=True)
    with env.begin(write=True) as txn:
        for key, value in rows:
            if not txn.put(key, value, append=True):
                sys.exit("build_py_lmdb.py: could not put key %r" % key)
    env.sync(True)
    env.close()
    print(len(rows))


if __name__ == "__main__":
    main()
