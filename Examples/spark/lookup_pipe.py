#!/usr/bin/env python3
"""Join every line of an input directory against a lookup table, on Spark, with `lookup map`.

    spark-submit lookup_pipe.py TABLE INPUT_DIR OUTPUT_DIR
        [--lookup PATH] [--ship-lookup] [--mode join|filter|anti|count]
        [-k N] [-d DELIM] [--format csv|tsv] [--shipped | --local]

Each partition of `sc.textFile(INPUT_DIR)` is piped through one `lookup map TABLE ...`
process; the output lines are written with `saveAsTextFile(OUTPUT_DIR)` (part-NNNNN files).
The output lines are exactly those `lookup run TABLE INPUT_DIR -o -` writes, except that Spark
does not keep file boundaries or order: compare them sorted.

--shipped (default)  TABLE is a path on the driver; it is sent to the executors with
                     SparkContext.addFile and each task opens SparkFiles.get(name), the copy in
                     its executor's working directory.
--local              TABLE is already on every node at the same path (a shared or node-local
                     path; a `local:` or `file://` prefix is accepted and removed). Nothing is
                     copied: all tasks on a node map the same file.
--lookup PATH        the lookup binary on the executors (default: `lookup` on their PATH).
--ship-lookup        also send the binary from --lookup PATH (a path on the driver) with addFile
                     and run the executor's copy. It must run on the executors as it is: build it
                     with `swift build -c release --static-swift-stdlib` (see ../hadoop-streaming).
"""
import argparse
import os
import shlex
import subprocess
import sys
import threading

from pyspark import SparkConf, SparkContext, SparkFiles


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("table")
    ap.add_argument("input_dir")
    ap.add_argument("output_dir")
    ap.add_argument("--lookup", default="lookup", help="lookup binary on the executors (default: lookup on PATH)")
    ap.add_argument("--ship-lookup", action="store_true", help="ship the --lookup binary with addFile")
    ap.add_argument("--mode", default="join", choices=["join", "filter", "anti", "count"])
    ap.add_argument("-k", "--key-column", type=int, default=1)
    ap.add_argument("-d", "--delimiter")
    ap.add_argument("--format", choices=["csv", "tsv"], default="csv")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--shipped", dest="shipped", action="store_true", default=True,
                       help="ship TABLE with SparkContext.addFile (default)")
    where.add_argument("--local", dest="shipped", action="store_false",
                       help="TABLE is at the same path on every node; nothing is copied")
    ap.add_argument("--min-partitions", type=int, default=None, help="passed to sc.textFile")
    return ap.parse_args(argv)


def map_options(a):
    opts = ["--mode", a.mode, "-k", str(a.key_column), "--format", a.format]
    if a.delimiter is not None:
        opts += ["-d", a.delimiter]
    return opts


def child_env():
    """rdd.pipe runs its command with only the env it is given: keep what a binary needs."""
    return {k: v for k, v in os.environ.items()
            if k in ("PATH", "LD_LIBRARY_PATH", "HOME", "TMPDIR", "LANG", "LC_ALL")}


def pipe_partition(argv_for_task):
    """Like rdd.pipe(command, checkCode=True), but the command line is built on the executor,
    where SparkFiles.get gives the path of that executor's copy of a shipped file."""
    def run(lines):
        argv = argv_for_task()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env())

        def feed():
            try:
                for line in lines:
                    proc.stdin.write(line.encode("utf-8") + b"\n")
            except BrokenPipeError:
                pass  # lookup stopped early; its exit status says why
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        for out in iter(proc.stdout.readline, b""):
            yield out.rstrip(b"\n").decode("utf-8")
        writer.join()
        if proc.wait() != 0:
            raise RuntimeError("%s exited with status %d" % (shlex.join(argv), proc.returncode))
    return run


def node_path(path):
    """A path that is the same on every node; `local:` and `file://` prefixes are dropped."""
    for prefix in ("local:", "file://"):
        if path.startswith(prefix):
            path = path[len(prefix):]
    return path


def main(argv):
    a = parse_args(argv)
    sc = SparkContext(conf=SparkConf().setAppName("lookup-map"))
    lines = sc.textFile(a.input_dir, minPartitions=a.min_partitions)
    opts = map_options(a)

    if a.shipped:
        sc.addFile(os.path.abspath(a.table))      # each executor downloads its own copy
    if a.ship_lookup:
        sc.addFile(os.path.abspath(a.lookup))     # fetched files are made executable

    if a.shipped or a.ship_lookup:
        shipped, ship_lookup, lookup = a.shipped, a.ship_lookup, a.lookup
        table_name, lookup_name = os.path.basename(a.table), os.path.basename(a.lookup)
        table_path = node_path(a.table)

        def argv_for_task():
            # Runs on the executor: SparkFiles.get is that executor's download directory.
            binary = SparkFiles.get(lookup_name) if ship_lookup else lookup
            table = SparkFiles.get(table_name) if shipped else table_path
            return [binary, "map", table] + opts

        result = lines.mapPartitions(pipe_partition(argv_for_task))
    else:
        # The same path on every node: the command is fixed here, and plain rdd.pipe runs it.
        command = shlex.join([a.lookup, "map", node_path(a.table)] + opts)
        result = lines.pipe(command, env=child_env(), checkCode=True)

    result.saveAsTextFile(a.output_dir)
    sc.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
