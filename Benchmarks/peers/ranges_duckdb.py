#!/usr/bin/env python3
"""DuckDB doing the IPv4 range join of run-ranges.sh (issue 14).

    ranges_duckdb.py load ranges|cidr TABLE.csv DB.duckdb
        loads the table once into a DuckDB database file (timed apart, as `lookup build`):
        table t(s UBIGINT, e UBIGINT, v VARCHAR), the range's first and last address as
        integers and the rest of the row as written, sorted by s
    ranges_duckdb.py join ranges|cidr DB.duckdb INPUT_DIR OUT_DIR THREADS
        joins every input file with the table, one query per file, writing OUT_DIR/<same
        name> in input order; prints the number of output lines

    ranges: TABLE rows `start,end,country,asn,org` (dotted IPv4 addresses, inclusive)
    cidr:   TABLE rows `network/len,country,asn,org` (s and e computed from the block)
    input:  `ip,int,filler`; output `ip,int,filler,country,asn,org` for each line whose
            address lies in a range (an inner join: misses write nothing)

The same job as `lookup run TABLE.lmdb INPUT -o OUT -j THREADS`. Per input file:
`COPY (SELECT ... FROM (SELECT *, ipint(ip) AS x FROM read_csv(file) WITH ORDINALITY) i JOIN t
ON i.x BETWEEN t.s AND t.e ORDER BY i.n) TO out/<name>` (DuckDB plans an IEJoin), where ipint
splits the dotted quad with split_part (no extension needed; the inet extension would have to
be downloaded). The address is converted in the subquery: written inside the join condition,
DuckDB evaluates it for every pair it compares (a nested loop, minutes for 20k x 20k). Every column is read as
text (no quotes in the data: quote=''), written back without quoting. SET threads=THREADS.
Needs `pip install duckdb`."""
import glob
import os
import sys

import duckdb

IPINT = ("CREATE OR REPLACE TEMP MACRO ipint(x) AS "
         "split_part(x, '.', 1)::UBIGINT * 16777216 + split_part(x, '.', 2)::UBIGINT * 65536 + "
         "split_part(x, '.', 3)::UBIGINT * 256 + split_part(x, '.', 4)::UBIGINT")
OPTS = "header=false, quote='', escape='', delim=','"
TABLE = {
    "ranges": ("{'a': 'VARCHAR', 'b': 'VARCHAR', 'country': 'VARCHAR', 'asn': 'VARCHAR', 'org': 'VARCHAR'}",
               "ipint(a) AS s, ipint(b) AS e"),
    "cidr": ("{'a': 'VARCHAR', 'country': 'VARCHAR', 'asn': 'VARCHAR', 'org': 'VARCHAR'}",
             "ipint(split_part(a, '/', 1)) AS s, "
             "ipint(split_part(a, '/', 1)) + (1::UBIGINT << (32 - split_part(a, '/', 2)::UBIGINT)) - 1 AS e"),
}


def load(job, csv, db):
    columns, bounds = TABLE[job]
    if os.path.exists(db):
        os.remove(db)
    con = duckdb.connect(db)
    con.execute(IPINT)
    con.execute("CREATE TABLE t AS SELECT %s, concat_ws(',', country, asn, org) AS v "
                "FROM read_csv(?, %s, columns=%s) ORDER BY s" % (bounds, OPTS, columns), [csv])
    con.close()


def join(job, db, in_dir, out_dir, threads):
    con = duckdb.connect(db, read_only=True)
    con.execute("SET threads=%d" % int(threads))
    con.execute(IPINT)
    os.makedirs(out_dir, exist_ok=True)
    lines = 0
    for f in sorted(glob.glob(os.path.join(in_dir, "*.csv"))):
        o = os.path.join(out_dir, os.path.basename(f))
        n = con.execute(
            "COPY (SELECT i.ip, i.a, i.b, t.v FROM (SELECT *, ipint(ip) AS x FROM read_csv(?, %s, "
            "columns={'ip': 'VARCHAR', 'a': 'VARCHAR', 'b': 'VARCHAR'}) WITH ORDINALITY AS i(ip, a, b, n)) i "
            "JOIN t ON i.x BETWEEN t.s AND t.e ORDER BY i.n) "
            "TO '%s' (FORMAT csv, HEADER false, QUOTE '')" % (OPTS, o.replace("'", "''")), [f]).fetchone()
        lines += n[0] if n else 0
    print(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "load" and args[1] in TABLE:
        load(*args[1:])
    elif len(args) == 6 and args[0] == "join" and args[1] in TABLE:
        join(*args[1:])
    else:
        sys.exit(__doc__)
