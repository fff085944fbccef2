#!/usr/bin/env python3
"""Change files for the update benchmark (run-updates.sh; standard library only).

    gen_updates.py TABLE_CSV OUT --percent P [--seed 1] [--applied] [--input DIR] [--print-params]

Reads TABLE_CSV (lines `key,value`, as gen.py writes them; any key shape) and writes into OUT
the changes of P% of its N rows (rounded), split 2:1:1:

  up.csv         upserts `key,value`, shuffled: P/2 % of the rows are existing keys given a new
                 value (one that differs from the old), P/4 % are new keys: 16 hex digits, odd
                 (gen.py's table keys are even; any key of TABLE_CSV drawn here stops the run)
  del.txt        P/4 % of the rows: existing keys to delete, one a line, shuffled (none of them
                 upserted)
  applied.csv    (--applied) the table after the changes: TABLE_CSV's rows in its order, the
                 deleted ones left out and the changed ones with their new value, then the new
                 rows. `lookup build applied.csv` makes a table of the same contents as the update.
  expected.json  the counts: rows before and after, upserted, new, deleted; with --input DIR
                 (gen.py's join input, lines `key,...`), the join's input lines, the hits through
                 the table before and after the update, and the hit lines whose key was changed,
                 deleted or added (table keys are even, gen.py's rule, checked on every row)
  params.json    the parameters and TABLE_CSV's path, size and mtime, so a caller can tell
                 whether OUT is reusable (--print-params prints them and writes nothing)

The changed and deleted rows are a uniform sample of the rows (random.sample of row numbers);
everything depends only on the parameters and TABLE_CSV (same seed, same files).
"""
import argparse
import json
import os
import random
import sys

COUNTRIES = ("US", "DE", "FR", "JP", "BR", "IN", "GB", "NL", "SE", "KR")


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 24)
            if not block:
                return n
            n += block.count(b"\n")


def value(r):
    """A value in gen.py's shape (`US|seg123|0.1234`) from 64 random bits."""
    return "%s|seg%03d|0.%04d" % (COUNTRIES[r % 10], (r >> 8) % 1000, (r >> 20) % 10000)


def write(path, text_lines):
    tmp = path + ".tmp"
    with open(tmp, "w", buffering=1 << 20) as f:
        f.writelines(text_lines)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--percent", type=float, required=True, help="rows changed, in percent of the table's")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--applied", action="store_true", help="also write applied.csv, the table after the changes")
    ap.add_argument("--input", default="", help="gen.py's join input directory: count the join's hits")
    ap.add_argument("--print-params", action="store_true", help="print params.json's line and write nothing")
    a = ap.parse_args()
    if not 0 < a.percent <= 50:
        sys.exit("gen_updates.py: --percent must be above 0 and at most 50")

    st = os.stat(a.table)
    params = {"generator": "Benchmarks/gen_updates.py v1", "table": os.path.realpath(a.table),
              "table_bytes": st.st_size, "table_mtime": int(st.st_mtime), "percent": a.percent, "seed": a.seed,
              "applied": a.applied, "input": os.path.realpath(a.input) if a.input else ""}
    if a.print_params:
        print(json.dumps(params, sort_keys=True))
        return
    n = count_lines(a.table)
    k = max(4, round(n * a.percent / 100))
    k_mod, k_new = k // 2, k // 4
    k_del = k - k_mod - k_new
    if k_mod + k_del > n:
        sys.exit("gen_updates.py: %s has %d rows, too few for %d changes" % (a.table, n, k))
    rnd = random.Random(a.seed)
    chosen = rnd.sample(range(n), k_mod + k_del)
    mod_rows, del_rows = set(chosen[:k_mod]), set(chosen[k_mod:])
    new_keys = set()
    while len(new_keys) < k_new:
        new_keys.add(b"%016x" % ((rnd.getrandbits(40) << 1) | 1))
    new_keys_list = sorted(new_keys)

    os.makedirs(a.out, exist_ok=True)
    upserts, deletes, changed = [], [], {}
    odd_keys = 0
    applied = open(os.path.join(a.out, "applied.csv.tmp"), "wb", buffering=1 << 20) if a.applied else None
    with open(a.table, "rb", buffering=1 << 20) as f:
        for i, line in enumerate(f):
            comma = line.index(b",")
            key = line[:comma]
            if key in new_keys:
                sys.exit("gen_updates.py: drew the new key %s, which %s holds (row %d); use another --seed"
                         % (key.decode(), a.table, i + 1))
            if a.input and int(key[-1:], 16) & 1:
                odd_keys += 1
            if i in mod_rows:
                old = line[comma + 1:].rstrip(b"\r\n").decode()
                new = old
                while new == old:
                    new = value(rnd.getrandbits(64))
                upserts.append("%s,%s\n" % (key.decode(), new))
                changed[key] = new
                if applied:
                    applied.write(b"%s,%s\n" % (key, new.encode()))
            elif i in del_rows:
                deletes.append(key.decode() + "\n")
            elif applied:
                applied.write(line)
    new_rows = ["%s,%s\n" % (key.decode(), value(rnd.getrandbits(64))) for key in new_keys_list]
    if applied:
        applied.writelines(r.encode() for r in new_rows)
        applied.close()
        os.replace(os.path.join(a.out, "applied.csv.tmp"), os.path.join(a.out, "applied.csv"))
    upserts += new_rows
    rnd.shuffle(upserts)
    rnd.shuffle(deletes)
    write(os.path.join(a.out, "up.csv"), upserts)
    write(os.path.join(a.out, "del.txt"), deletes)

    expected = {"rows_before": n, "rows_after": n + k_new - k_del, "upserted": k_mod + k_new,
                "changed": k_mod, "new": k_new, "deleted": k_del}
    if a.input:
        if odd_keys:
            sys.exit("gen_updates.py: %s holds %d odd keys: not gen.py's table, cannot count the hits" % (a.table, odd_keys))
        deleted = {d.rstrip("\n").encode() for d in deletes}
        lines = hits_before = hits_changed = hits_deleted = hits_new = 0
        for name in sorted(os.listdir(a.input)):
            with open(os.path.join(a.input, name), "rb", buffering=1 << 20) as f:
                for line in f:
                    lines += 1
                    key = line[:line.index(b",")]
                    if int(key[-1:], 16) & 1 == 0:
                        hits_before += 1
                        if key in deleted:
                            hits_deleted += 1
                        elif key in changed:
                            hits_changed += 1
                    elif key in new_keys:
                        hits_new += 1
        expected.update({"input_lines": lines, "hits_before": hits_before,
                         "hits_after": hits_before - hits_deleted + hits_new, "hit_lines_changed": hits_changed,
                         "hit_lines_deleted": hits_deleted, "hit_lines_new": hits_new})
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(expected, f, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, "params.json"), "w") as f:
        json.dump(params, f, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
