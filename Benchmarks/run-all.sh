#!/usr/bin/env bash
# The whole benchmark in one command: at each table size, builds, `get` and point lookups
# (run.sh) and the batch join against its peers (run-batch.sh); then the join kinds (one-to-many,
# composite keys) against DuckDB and Polars at one size (run-joins.sh); then the range lookups
# (IPv4 ranges and CIDR blocks) against DuckDB, maxminddb and the W1 join (run-ranges.sh); then
# table updates against full builds (run-updates.sh, its own report updates.md); then one
# summary with the targets, met or not, and a chart.
#
#   Benchmarks/run-all.sh [--sizes "1000000 5000000 50000000"] [--files 16] [--lines 1000000]
#                         [--runs 3] [--get-keys 1000000] [--memory 1G] [--max-peer-keys 10000000]
#                         [--joins-keys 5000000] [--no-joins] [--ranges-rows 1000000]
#                         [--no-ranges] [--no-updates] [--results DIR]
#
#   --sizes LIST      table sizes (rows), space-separated (default "1000000 5000000 50000000")
#   --files F         join input files (default 16)
#   --lines L         lines per input file, about half of them hits (default 1000000)
#   --runs R          measured runs of each command, interleaved (default 3)
#   --get-keys M      keys for `get` and the API point lookups (default 1000000)
#   --memory SIZE     `lookup build --memory`, and the budget of the build-memory target (default 1G)
#   --max-peer-keys K above K rows, skip the peers that hold the whole table in their heap:
#                     join_py_dict.py (once per worker), mawk, build_py_lmdb.py (default 10000000)
#   --joins-keys N    table rows of the join-kinds step (default 5000000, the reference size)
#   --no-joins        skip the join-kinds step (run-joins.sh) and its targets
#   --ranges-rows N   rows of the range tables of the range-lookup step (default 1000000)
#   --no-ranges       skip the range-lookup step (run-ranges.sh) and its targets
#   --no-updates      skip the table-update step (run-updates.sh: 5M-row W1 table, and the
#                     50M-row one when --sizes has 50000000)
#   --results DIR     where the results go (default Benchmarks/results): DIR/size-N/build-get.*,
#                     DIR/size-N/batch-join.*, DIR/joins.{md,jsonl}, DIR/ranges.{md,jsonl},
#                     DIR/updates.{md,jsonl}, DIR/summary.md, summary.json, summary.svg
set -euo pipefail

SIZES="1000000 5000000 50000000"
FILES=16
LINES=1000000
RUNS=3
GET_KEYS=1000000
MEMORY=1G
MAX_PEER_KEYS=10000000
JOINS_KEYS=5000000
JOINS=1
RANGES_ROWS=1000000
RANGES=1
UPDATES=1
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RESULTS="$BENCH/results"
INVOCATION="Benchmarks/run-all.sh${*:+ $*}"

usage() { sed -n '2,31s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES="${2:?--sizes needs a list}"; shift 2 ;;
    --files) FILES="${2:?--files needs a number}"; shift 2 ;;
    --lines) LINES="${2:?--lines needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --get-keys) GET_KEYS="${2:?--get-keys needs a number}"; shift 2 ;;
    --memory) MEMORY="${2:?--memory needs a size}"; shift 2 ;;
    --max-peer-keys) MAX_PEER_KEYS="${2:?--max-peer-keys needs a number}"; shift 2 ;;
    --joins-keys) JOINS_KEYS="${2:?--joins-keys needs a number}"; shift 2 ;;
    --no-joins) JOINS=0; shift ;;
    --ranges-rows) RANGES_ROWS="${2:?--ranges-rows needs a number}"; shift 2 ;;
    --no-ranges) RANGES=0; shift ;;
    --no-updates) UPDATES=0; shift ;;
    --results) RESULTS="${2:?--results needs a directory}"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run-all.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in $SIZES "$FILES" "$LINES" "$RUNS" "$GET_KEYS" "$MAX_PEER_KEYS" "$JOINS_KEYS" "$RANGES_ROWS"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run-all.sh: not a positive number: $v" >&2; exit 2; }
done
SIZES="$(tr ' ' '\n' <<<"$SIZES" | grep . | sort -n -u | tr '\n' ' ')"
SIZES="${SIZES% }"
[ -n "$SIZES" ] || { echo "run-all.sh: --sizes needs at least one number" >&2; exit 2; }
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"

# Disk: the largest size's data (two table.csv, the join input) and work files (three
# tables, the join outputs), roughly, must fit; data of smaller sizes is kept for reuse.
BIG="${SIZES##* }"
NEED_MIB=$(( (BIG * (2 * 34 + 3 * 48) + FILES * LINES * 48 * 3) / 1048576 + 512 ))
# The join kinds (run-joins.sh): two tables in four forms, two inputs, two outputs of the
# one-to-many join (about 1.5 output lines of 73 bytes an input line) at once.
[ "$JOINS" -eq 0 ] || NEED_MIB=$(( NEED_MIB + (JOINS_KEYS * 600 + FILES * LINES * 320) / 1048576 ))
# The range lookups (run-ranges.sh): two tables in four forms, two inputs, the reference
# outputs and two more at once; W1's data is the 5M-key size's, when --sizes has it.
[ "$RANGES" -eq 0 ] || NEED_MIB=$(( NEED_MIB + (RANGES_ROWS * 1000 + FILES * LINES * 400) / 1048576 ))
# The table updates (run-updates.sh): the 5M-row W1 table in three forms, its applied changes,
# two join outputs; with 50M rows, two more bases of that size (the data is run.sh's).
UPDATES_BIG=--no-big
[[ " $SIZES " != *" 50000000 "* ]] || UPDATES_BIG=--big
[ "$UPDATES" -eq 0 ] || NEED_MIB=$(( NEED_MIB + (5000000 * 224 + FILES * LINES * 64) / 1048576 ))
[ "$UPDATES" -eq 0 ] || [ "$UPDATES_BIG" = --no-big ] || NEED_MIB=$(( NEED_MIB + 50000000 * 138 / 1048576 ))
mkdir -p "$BENCH/data" "$BENCH/work"
FREE_MIB=$(df -Pm "$BENCH/data" | awk 'NR==2{print $4}')
[ "$FREE_MIB" -ge "$NEED_MIB" ] ||
  { echo "run-all.sh: about $NEED_MIB MiB of disk needed for $BIG keys, $FREE_MIB MiB free in $BENCH/data" >&2; exit 2; }

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
for n in $SIZES; do
  printf '\n######## %s keys\n' "$n" >&2
  mkdir -p "$RESULTS/size-$n"
  "$BENCH/run.sh" --keys "$n" --runs "$RUNS" --get-keys "$GET_KEYS" --memory "$MEMORY" \
    --max-peer-keys "$MAX_PEER_KEYS" --out "$RESULTS/size-$n/build-get"
  "$BENCH/run-batch.sh" --keys "$n" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
    --workers "1 2 4" --peer-workers "1 2" --max-peer-keys "$MAX_PEER_KEYS" --out "$RESULTS/size-$n/batch-join"
done

JOINS_ARGS=()
if [ "$JOINS" -eq 1 ]; then
  printf '\n######## join kinds, %s rows\n' "$JOINS_KEYS" >&2
  "$BENCH/run-joins.sh" --keys "$JOINS_KEYS" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
    --workers 2 --results "$RESULTS"
  JOINS_ARGS=(--joins "$RESULTS/joins.jsonl")
fi

RANGES_ARGS=()
UPDATES_ARGS=()
if [ "$RANGES" -eq 1 ]; then
  printf '\n######## range lookups, %s rows\n' "$RANGES_ROWS" >&2
  "$BENCH/run-ranges.sh" --rows "$RANGES_ROWS" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
    --workers 2 --w1-keys 5000000 --results "$RESULTS"
  RANGES_ARGS=(--ranges "$RESULTS/ranges.jsonl")
fi

if [ "$UPDATES" -eq 1 ]; then
  printf '\n######## table updates\n' >&2
  "$BENCH/run-updates.sh" --keys 5000000 --files "$FILES" --lines "$LINES" --runs "$RUNS" \
    --workers 2 "$UPDATES_BIG" --results "$RESULTS"
  UPDATES_ARGS=(--updates "$RESULTS/updates.jsonl")
fi

printf '\n######## summary\n' >&2
python3 "$BENCH/summarize_all.py" --results "$RESULTS" --sizes "$SIZES" \
  --invocation "$INVOCATION" --load-before "$LOAD_BEFORE" "${JOINS_ARGS[@]}" "${RANGES_ARGS[@]}" "${UPDATES_ARGS[@]}"
