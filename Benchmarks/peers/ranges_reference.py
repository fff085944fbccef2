#!/usr/bin/env python3
"""The reference of run-ranges.sh: the IPv4 range join in plain Python, a binary search
(bisect) on the sorted range starts. Slow (one process) but obviously right; run-ranges.sh
runs it once, untimed, and every measured program's output must equal its output.

    ranges_reference.py ranges|cidr TABLE.csv INPUT_DIR OUT_DIR

    ranges: TABLE rows `start,end,value...` (dotted IPv4 addresses, inclusive, disjoint)
    cidr:   TABLE rows `network/len,value...` (disjoint blocks)

For each file of INPUT_DIR (`*.csv`), OUT_DIR/<same name> gets, in input order, `LINE,VALUE`
for every line whose first column (a dotted IPv4 address) lies in a table row's range: VALUE
is the rest of that row as written (the columns after start,end or network). Lines in no
range write nothing (an inner join). Prints the number of output lines. Standard library only.
"""
import bisect
import glob
import os
import socket
import struct
import sys


def ip_int(text):
    return struct.unpack("!I", socket.inet_aton(text))[0]


def load(job, path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if job == "ranges":
                start, end, rest = line.split(",", 2)
                s, e = ip_int(start), ip_int(end)
            else:
                network, rest = line.split(",", 1)
                addr, length = network.split("/")
                s = ip_int(addr)
                e = s + (1 << (32 - int(length))) - 1
            if e < s:
                sys.exit("ranges_reference.py: end before start: %s" % line)
            rows.append((s, e, rest))
    rows.sort()
    for (s0, e0, _), (s1, _, _) in zip(rows, rows[1:]):
        if s1 <= e0:
            sys.exit("ranges_reference.py: overlapping rows at %d" % s1)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("ranges", "cidr"):
        sys.exit(__doc__)
    job, table, in_dir, out_dir = sys.argv[1:]
    starts, ends, values = load(job, table)
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    for path in sorted(glob.glob(os.path.join(in_dir, "*.csv"))):
        with open(path) as f, open(os.path.join(out_dir, os.path.basename(path)), "w") as out:
            for line in f:
                line = line.rstrip("\n")
                ip = ip_int(line.split(",", 1)[0])
                i = bisect.bisect_right(starts, ip) - 1
                if i >= 0 and ip <= ends[i]:
                    out.write("%s,%s\n" % (line, values[i]))
                    count += 1
    print(count)


if __name__ == "__main__":
    main()
