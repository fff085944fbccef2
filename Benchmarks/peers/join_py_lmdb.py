#!/usr/bin/env python3
"""The straightforward py-lmdb batch join the benchmark compares `lookup run` with.

    join_py_lmdb.py TABLE.lmdb INPUT_DIR OUT_DIR WORKERS [DBNAME]

For each non-hidden file of INPUT_DIR (not recursive), each line whose key (the text up
to the first comma) is in the table is written as `line,value` to OUT_DIR/<same name>;
prints the total number of hits. A multiprocessing Pool of WORKERS processes (fork, the
Linux default); every worker opens the table itself in the Pool initializer, read-only
and without a lock file (`lock=False, readonly=True, subdir=False`), and reads database
DBNAME (`data` for a table built by `lookup build`; the main database when omitted).
Files are handed out one at a time (imap_unordered, chunksize 1). With JOIN_READAHEAD=0 in
the environment, the table is opened with `readahead=False` (for a table larger than
memory). Needs `pip install lmdb`.
"""
import os
import sys
from multiprocessing import Pool

import lmdb

txn = None
db = None


def init(table, dbname):
    global txn, db
    env = lmdb.open(table, readonly=True, lock=False, subdir=False, max_dbs=4 if dbname else 0,
                    readahead=os.environ.get("JOIN_READAHEAD", "1") != "0")
    db = env.open_db(dbname.encode()) if dbname else None
    txn = env.begin(db=db, buffers=False)


def work(job):
    src, dst = job
    hits = 0
    get = txn.get
    with open(src, "rb") as f, open(dst, "wb") as w:
        write = w.write
        for line in f:
            line = line.rstrip(b"\n")
            if not line:
                continue
            v = get(line.split(b",", 1)[0])
            if v is not None:
                hits += 1
                write(line + b"," + v + b"\n")
    return hits


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit("usage: join_py_lmdb.py TABLE.lmdb INPUT_DIR OUT_DIR WORKERS [DBNAME]")
    table, in_dir, out_dir, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    dbname = sys.argv[5] if len(sys.argv) == 6 else None
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(n for n in os.listdir(in_dir)
                   if not n.startswith(".") and os.path.isfile(os.path.join(in_dir, n)))
    jobs = [(os.path.join(in_dir, n), os.path.join(out_dir, n)) for n in names]
    with Pool(processes=workers, initializer=init, initargs=(table, dbname)) as pool:
        print(sum(pool.imap_unordered(work, jobs, chunksize=1)))


if __name__ == "__main__":
    main()
