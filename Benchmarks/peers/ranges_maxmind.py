#!/usr/bin/env python3
"""Python's MaxMind DB reader doing the IPv4 range join of run-ranges.sh (issue 14): the way a
Python data engineer looks up geo-IP data, `maxminddb` (its C extension, libmaxminddb's
reader, bundled in the wheel) over an .mmdb file, with a multiprocessing pool.

    ranges_maxmind.py load ranges|cidr TABLE.csv DB.mmdb
        writes the table once as an .mmdb file (timed apart, as `lookup build`) with PyPI
        `mmdb-writer`: each row's range split into CIDR blocks (netaddr's IPSet), each
        block's record the map {"v": "country,asn,org"} (the rest of the row as written)
    ranges_maxmind.py join ranges|cidr DB.mmdb INPUT_DIR OUT_DIR WORKERS
        a multiprocessing Pool(WORKERS): each worker opens DB.mmdb once with
        maxminddb.open_database(MODE_MMAP_EXT) (the C extension over a shared mmap; falls
        back to MODE_AUTO) and joins whole input files, one at a time: for each line whose
        first column's address is in the database, `LINE,VALUE` to OUT_DIR/<same name>, in
        input order; prints the number of output lines

    ranges: TABLE rows `start,end,country,asn,org` (dotted IPv4 addresses, inclusive)
    cidr:   TABLE rows `network/len,country,asn,org`

The same job as `lookup run TABLE.lmdb INPUT -o OUT -j WORKERS`.
Needs `pip install maxminddb mmdb-writer` (mmdb-writer pulls in netaddr)."""
import glob
import os
import sys
from multiprocessing import Pool

reader = None


def load(job, csv, db):
    from mmdb_writer import MMDBWriter
    from netaddr import IPNetwork, IPRange, IPSet

    writer = MMDBWriter(ip_version=4, database_type="lookup-ranges-benchmark",
                        description="run-ranges.sh " + job)
    with open(csv) as f:
        for line in f:
            line = line.rstrip("\n")
            if job == "ranges":
                start, end, rest = line.split(",", 2)
                net = IPSet(IPRange(start, end))
            else:
                network, rest = line.split(",", 1)
                net = IPSet([IPNetwork(network)])
            writer.insert_network(net, {"v": rest})
    tmp = db + ".tmp"
    writer.to_db_file(tmp)
    os.replace(tmp, db)


def open_reader(db):
    global reader
    import maxminddb
    try:
        reader = maxminddb.open_database(db, maxminddb.MODE_MMAP_EXT)
    except (ImportError, ValueError):  # no C extension in this install
        reader = maxminddb.open_database(db, maxminddb.MODE_AUTO)


def join_file(job):
    path, out_path = job
    get = reader.get
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            rec = get(line[:line.index(",")])
            if rec is not None:
                out.append("%s,%s\n" % (line, rec["v"]))
    with open(out_path, "w") as f:
        f.writelines(out)
    return len(out)


def join(db, in_dir, out_dir, workers):
    os.makedirs(out_dir, exist_ok=True)
    files = [(p, os.path.join(out_dir, os.path.basename(p)))
             for p in sorted(glob.glob(os.path.join(in_dir, "*.csv")))]
    with Pool(int(workers), initializer=open_reader, initargs=(db,)) as pool:
        print(sum(pool.imap_unordered(join_file, files)))


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "load" and args[1] in ("ranges", "cidr"):
        load(*args[1:])
    elif len(args) == 6 and args[0] == "join" and args[1] in ("ranges", "cidr"):
        join(*args[2:])
    else:
        sys.exit(__doc__)
