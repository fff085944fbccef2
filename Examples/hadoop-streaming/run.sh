#!/usr/bin/env bash
# Runs the lookup join as a map-only Hadoop Streaming job (see README.md).
#
#   run.sh TABLE.lmdb LOOKUP_BINARY HDFS_INPUT_DIR HDFS_OUTPUT_DIR [lookup map options...]
#   run.sh --simulate TABLE.lmdb LOOKUP_BINARY LOCAL_INPUT_DIR [lookup map options...]
#
# The first form needs HADOOP_HOME (or `hadoop` on the PATH) and a cluster; it was not run
# here. --simulate needs no Hadoop: it runs what each map task runs, `lookup map` on stdin, over
# every file of a local directory, with the same working-directory layout (./table.lmdb,
# ./lookup), and prints the output lines; compare them with `lookup run TABLE DIR -o -`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "${1:-}" = --simulate ]; then
    shift
    [ $# -ge 3 ] || { echo "usage: $0 --simulate TABLE LOOKUP INPUT_DIR [options]" >&2; exit 2; }
    table="$(realpath "$1")" lookup="$(realpath "$2")" input="$(realpath "$3")"; shift 3
    task="$(mktemp -d)"; trap 'rm -rf "$task"' EXIT
    ln -s "$table" "$task/table.lmdb"; ln -s "$lookup" "$task/lookup"   # as -files localizes them
    cd "$task"
    find "$input" -type f ! -name '.*' | sort | while read -r f; do
        case "$f" in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac | ./lookup map table.lmdb "$@"
    done
    exit 0
fi

[ $# -ge 4 ] || { echo "usage: $0 TABLE LOOKUP HDFS_INPUT HDFS_OUTPUT [lookup map options...]" >&2; exit 2; }
table="$1" lookup="$2" input="$3" output="$4"; shift 4
hadoop="${HADOOP_HOME:+$HADOOP_HOME/bin/}hadoop"
jar="$(ls "${HADOOP_HOME:?set HADOOP_HOME}"/share/hadoop/tools/lib/hadoop-streaming-*.jar | head -n 1)"
# Generic options (-D, -files, -archives) must come before the streaming options.
# The two separator settings make TextOutputFormat write each CSV line back exactly as `lookup map`
# printed it (see README.md, "Output lines"); drop them for --format tsv.
exec "$hadoop" jar "$jar" \
    -D mapreduce.job.name="lookup map $(basename "$table")" \
    -D mapreduce.job.reduces=0 \
    -D stream.map.output.field.separator=, \
    -D mapreduce.output.textoutputformat.separator=, \
    -files "$table#table.lmdb,$lookup#lookup" \
    -input "$input" \
    -output "$output" \
    -mapper "./lookup map table.lmdb --hadoop $*"
