#!/usr/bin/env python3
"""DuckDB doing the batch join, for the benchmark of tables larger than memory.

    join_duckdb.py load TABLE.csv DB.duckdb
        loads the table (key,value rows) once into a DuckDB database file (timed apart)
    join_duckdb.py join DB.duckdb INPUT_DIR OUT_DIR THREADS [MEMORY_LIMIT]
        joins every input file (key,int,filler rows) with the table, one query per file,
        writing OUT_DIR/<same name> with `key,int,filler,value` lines in input order; prints
        the number of hits. MEMORY_LIMIT (e.g. 700MB) is DuckDB's `memory_limit`: inside a
        memory-capped container DuckDB must be told its share, it does not read the cgroup.

As ../shared/bench/peer_duckdb.py (its `join` form), plus the memory limit and a temp
directory beside the database for what DuckDB spills. Needs `pip install duckdb`."""
import glob
import os
import sys

import duckdb


def load(csv, db):
    if os.path.exists(db):
        os.remove(db)
    con = duckdb.connect(db)
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, header=false, "
                "columns={'k':'VARCHAR','v':'VARCHAR'}, quote='', escape='')", [csv])
    con.close()


def join(db, in_dir, out_dir, threads, memory_limit=None):
    con = duckdb.connect(db, read_only=True)
    con.execute(f"SET threads={int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute(f"SET temp_directory='{db}.tmp'")
    os.makedirs(out_dir, exist_ok=True)
    hits = 0
    for f in sorted(glob.glob(os.path.join(in_dir, "*.csv"))):
        o = os.path.join(out_dir, os.path.basename(f))
        n = con.execute(
            "COPY (SELECT i.k, i.a, i.b, t.v FROM read_csv(?, header=false, "
            "columns={'k':'VARCHAR','a':'VARCHAR','b':'VARCHAR'}, quote='', escape='') "
            "WITH ORDINALITY AS i(k, a, b, n) JOIN t USING (k) ORDER BY i.n) "
            "TO '" + o.replace("'", "''") + "' (FORMAT csv, HEADER false, QUOTE '')", [f]).fetchone()
        hits += n[0] if n else 0
    print(hits)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "join":
        join(*sys.argv[2:])
    else:
        sys.exit(__doc__)
