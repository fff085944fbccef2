#!/usr/bin/env python3
"""Polars doing the two join kinds of run-joins.sh: one-to-many and composite keys.

    joins_polars.py load many|comp TABLE.csv TABLE.arrow
        reads the table once and saves it as an Arrow IPC file (timed apart, as `lookup build`)
    joins_polars.py join many|comp TABLE.arrow INPUT_DIR OUT_DIR THREADS
        joins every input file with the table (a lazy inner join per file), writing
        OUT_DIR/<same name> in input order; prints the number of output lines

    many: table `key,value,id` (a key on several rows), input `key,int,filler`; one output
          line `key,int,filler,value,id` per matching table row, for each input line in
          input order the matches in the table's order (`maintain_order="left_right"`)
    comp: table `customer,month,value,amount` (the pair unique), input
          `customer,month,int,filler`; output `customer,month,int,filler,value,amount`

The same job as `lookup run TABLE.lmdb INPUT -o OUT -j THREADS` (with `-k 1,2` for comp).
Like ../shared/bench/peer_polars.py: every column read as text, no quoting either way.
THREADS becomes POLARS_MAX_THREADS (set before Polars is imported: it sizes its pool then).
Needs `pip install polars`."""
import glob
import os
import sys

# job -> (table columns, input columns, key columns, maintain_order)
JOBS = {
    "many": (["k", "v", "id"], ["k", "a", "b"], ["k"], "left_right"),
    "comp": (["k1", "k2", "v", "m"], ["k1", "k2", "a", "b"], ["k1", "k2"], "left"),
}


def text_schema(names):
    import polars as pl
    return {c: pl.Utf8 for c in names}


def load(job, csv, arrow):
    import polars as pl
    cols = JOBS[job][0]
    pl.read_csv(csv, has_header=False, new_columns=cols, schema_overrides=text_schema(cols),
                quote_char=None).write_ipc(arrow)


def join(job, arrow, in_dir, out_dir):
    import polars as pl
    _, input_cols, keys, maintain = JOBS[job]
    os.makedirs(out_dir, exist_ok=True)
    t = pl.read_ipc(arrow).lazy()
    lines = 0
    for f in sorted(glob.glob(os.path.join(in_dir, "*.csv"))):
        i = pl.scan_csv(f, has_header=False, new_columns=input_cols,
                        schema_overrides=text_schema(input_cols), quote_char=None)
        r = i.join(t, on=keys, how="inner", maintain_order=maintain).collect()
        r.write_csv(os.path.join(out_dir, os.path.basename(f)), include_header=False, quote_style="never")
        lines += r.height
    print(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "load" and args[1] in JOBS:
        load(*args[1:])
    elif len(args) == 6 and args[0] == "join" and args[1] in JOBS:
        os.environ["POLARS_MAX_THREADS"] = str(int(args[5]))
        join(*args[1:5])
    else:
        sys.exit(__doc__)
