#!/usr/bin/env python3
"""The classic Python batch join: a dict loaded in the parent, a fork Pool of workers.

    join_py_dict.py TABLE.csv INPUT_DIR OUT_DIR WORKERS

Loads TABLE.csv (lines `key,value`, split at the first comma) into a dict in the parent
process, then forks a multiprocessing Pool of WORKERS processes that inherit the dict
(copy-on-write: reference counting soon writes to many of its pages). For each
non-hidden file of INPUT_DIR (not recursive), each line whose key (the text up to the
first comma) is in the dict is written as `line,value` to OUT_DIR/<same name>; prints the
total number of hits. Files are handed out one at a time (imap_unordered, chunksize 1).
The measured time includes loading the dict: the classic job does it on every run.
"""
import multiprocessing
import os
import sys

table = {}


def work(job):
    src, dst = job
    hits = 0
    get = table.get
    with open(src) as f, open(dst, "w") as w:
        write = w.write
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            v = get(line.split(",", 1)[0])
            if v is not None:
                hits += 1
                write(line + "," + v + "\n")
    return hits


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: join_py_dict.py TABLE.csv INPUT_DIR OUT_DIR WORKERS")
    src, in_dir, out_dir, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(src) as f:
        for line in f:
            k, v = line.rstrip("\n").split(",", 1)
            table[k] = v
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(n for n in os.listdir(in_dir)
                   if not n.startswith(".") and os.path.isfile(os.path.join(in_dir, n)))
    jobs = [(os.path.join(in_dir, n), os.path.join(out_dir, n)) for n in names]
    with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
        print(sum(pool.imap_unordered(work, jobs, chunksize=1)))


if __name__ == "__main__":
    main()
