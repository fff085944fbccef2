#!/usr/bin/env python3
"""DuckDB doing the two join kinds of run-joins.sh: one-to-many and composite keys.

    joins_duckdb.py load many|comp TABLE.csv DB.duckdb
        loads the table once into a DuckDB database file (timed apart, as `lookup build`)
    joins_duckdb.py join many|comp DB.duckdb INPUT_DIR OUT_DIR THREADS
        joins every input file with the table, one query per file, writing OUT_DIR/<same
        name> in input order; prints the number of output lines

    many: table `key,value,id` (a key on several rows), input `key,int,filler`; one output
          line `key,int,filler,value,id` per matching table row, for each input line in
          input order the matches in the table's order (an inner join: misses write nothing)
    comp: table `customer,month,value,amount` (the pair unique), input
          `customer,month,int,filler`; output `customer,month,int,filler,value,amount`

The same job as `lookup run TABLE.lmdb INPUT -o OUT -j THREADS` (with `-k 1,2` for comp).
Like peers/join_duckdb.py: the input's line order from `WITH ORDINALITY`, the table's from
its rowid (DuckDB keeps insertion order by default, so rowid follows the CSV), every column
read as text (no quotes in the data: `quote=''`), written back without quoting.
Needs `pip install duckdb`."""
import glob
import os
import sys

import duckdb

# job -> (table columns, input columns, input key columns, output columns, order)
JOBS = {
    "many": (("k", "v", "id"), ("k", "a", "b"), ("k",),
             "i.k, i.a, i.b, t.v, t.id", "i.n, t.rowid"),
    "comp": (("k1", "k2", "v", "m"), ("k1", "k2", "a", "b"), ("k1", "k2"),
             "i.k1, i.k2, i.a, i.b, t.v, t.m", "i.n"),
}


def columns(names):
    return "{" + ", ".join("'%s': 'VARCHAR'" % c for c in names) + "}"


def load(job, csv, db):
    table_cols = JOBS[job][0]
    if os.path.exists(db):
        os.remove(db)
    con = duckdb.connect(db)
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, header=false, columns=%s, "
                "quote='', escape='')" % columns(table_cols), [csv])
    con.close()


def join(job, db, in_dir, out_dir, threads):
    _, input_cols, keys, select, order = JOBS[job]
    con = duckdb.connect(db, read_only=True)
    con.execute("SET threads=%d" % int(threads))
    os.makedirs(out_dir, exist_ok=True)
    lines = 0
    for f in sorted(glob.glob(os.path.join(in_dir, "*.csv"))):
        o = os.path.join(out_dir, os.path.basename(f))
        n = con.execute(
            "COPY (SELECT %s FROM read_csv(?, header=false, columns=%s, quote='', escape='') "
            "WITH ORDINALITY AS i(%s, n) JOIN t USING (%s) ORDER BY %s) "
            "TO '%s' (FORMAT csv, HEADER false, QUOTE '')" % (
                select, columns(input_cols), ", ".join(input_cols), ", ".join(keys), order,
                o.replace("'", "''")), [f]).fetchone()
        lines += n[0] if n else 0
    print(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "load" and args[1] in JOBS:
        load(*args[1:])
    elif len(args) == 6 and args[0] == "join" and args[1] in JOBS:
        join(*args[1:])
    else:
        sys.exit(__doc__)
