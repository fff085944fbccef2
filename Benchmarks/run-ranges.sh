#!/usr/bin/env bash
# Range-lookup benchmark (issue 14): `lookup run` joining input lines with a table of IPv4
# ranges (or CIDR blocks), against DuckDB (a BETWEEN join) and Python's maxminddb reader (a
# pool of processes over an .mmdb file), and against lookup's own exact-match W1 join.
#
#   Benchmarks/run-ranges.sh [--rows N] [--files F] [--lines L] [--runs R] [--workers W]
#                            [--jobs "ranges cidr"] [--cidr] [--w1-keys N] [--no-w1]
#                            [--results DIR] [--no-lookup]
#
#   --rows N       rows of each table: ranges, CIDR blocks (default 1000000)
#   --files F      input files per job, and of the W1 join (default 16)
#   --lines L      lines per input file, about half of them hits (default 1000000)
#   --runs R       measured runs of each command, interleaved (default 3)
#   --workers W    `lookup run -j W`, DuckDB's threads, the maxminddb pool (default 2)
#   --jobs LIST    ranges (start,end rows, `lookup build --ranges --key-type ip`) and/or cidr
#                  (network/len rows, `lookup build --cidr`) (default "ranges cidr")
#   --cidr         the same as --jobs cidr
#   --w1-keys N    rows of the W1 exact-match table, gen.py's (default 5000000)
#   --no-w1        skip the W1 join (and the lines/s target)
#   --results DIR  writes DIR/ranges.md and DIR/ranges.jsonl (default Benchmarks/results;
#                  with --no-lookup, Benchmarks/work/ranges-peers)
#   --no-lookup    measure only the peers (and no W1): a check of the harness, and of the
#                  peers against the reference, without a `lookup` build
#
# Steps: install what is missing (python3; pip: duckdb, maxminddb, mmdb-writer; liblmdb-dev
# for the Swift build), build `lookup` in release mode (a copy in work/ranges/bin is
# measured), generate (or reuse) the workload with gen_ranges.py in Benchmarks/data/ranges-...
# and W1's with gen.py (the directory run-batch.sh uses, reused when present), run the
# reference join (peers/ranges_reference.py, plain Python bisect; once, untimed), then per
# job, once, timed:
#   ranges: lookup build ranges.csv --ranges --key-type ip -o ranges.lmdb
#   cidr:   lookup build cidr.csv --cidr -o cidr.lmdb
#   ranges_duckdb.py load JOB JOB.csv JOB.duckdb    ranges_maxmind.py load JOB JOB.csv JOB.mmdb
#   W1:     lookup build table.csv -o w1.lmdb
# then, page cache warm, in each run, each job then W1:
#   lookup run JOB.lmdb JOB-input -o out/lookup-JOB -j W --mode join -q
#   ranges_duckdb.py join JOB JOB.duckdb JOB-input out/duckdb-JOB W
#   ranges_maxmind.py join JOB JOB.mmdb JOB-input out/maxmind-JOB W
#   lookup run w1.lmdb w1-input -o out/lookup-w1 -j W --mode join -q
# Every output directory must hold one file per input file, each byte-identical to the
# reference's (W1: gen.py's hit count); any difference stops the run with one line and exit
# status 1 (the outputs kept in work/ranges/out). Measured with measure.py (wall time, peak
# summed PSS/RSS of the process tree). Writes DIR/ranges.{md,jsonl} (summarize_ranges.py):
# medians, and the targets: range join lines/s >= 0.5x W1's; lookup's wall time <= 1/3 of
# DuckDB's and of maxminddb's.
set -euo pipefail

ROWS=1000000
FILES=16
LINES=1000000
RUNS=3
WORKERS=2
JOBS="ranges cidr"
W1_KEYS=5000000
WITH_W1=1
RESULTS=""
WITH_LOOKUP=1
SEED=1
INVOCATION="Benchmarks/run-ranges.sh${*:+ $*}"

usage() { sed -n '2,23s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS="${2:?--rows needs a number}"; shift 2 ;;
    --files) FILES="${2:?--files needs a number}"; shift 2 ;;
    --lines) LINES="${2:?--lines needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --workers) WORKERS="${2:?--workers needs a number}"; shift 2 ;;
    --jobs) JOBS="${2:?--jobs needs a list}"; shift 2 ;;
    --cidr) JOBS=cidr; shift ;;
    --w1-keys) W1_KEYS="${2:?--w1-keys needs a number}"; shift 2 ;;
    --no-w1) WITH_W1=0; shift ;;
    --results) RESULTS="${2:?--results needs a directory}"; shift 2 ;;
    --no-lookup) WITH_LOOKUP=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run-ranges.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$ROWS" "$FILES" "$LINES" "$RUNS" "$WORKERS" "$W1_KEYS"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run-ranges.sh: not a positive number: $v" >&2; exit 2; }
done
for j in $JOBS; do
  [[ "$j" == ranges || "$j" == cidr ]] || { echo "run-ranges.sh: --jobs takes ranges and/or cidr, not $j" >&2; exit 2; }
done
[ -n "${JOBS// /}" ] || { echo "run-ranges.sh: --jobs needs ranges and/or cidr" >&2; exit 2; }
[ "$WITH_LOOKUP" -eq 1 ] || WITH_W1=0   # W1 is lookup's own join

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/ranges"
if [ -z "$RESULTS" ]; then
  if [ "$WITH_LOOKUP" -eq 1 ]; then RESULTS="$BENCH/results"; else RESULTS="$BENCH/work/ranges-peers"; fi
fi
fail() { echo "run-ranges.sh: $*" >&2; exit 1; }
PROG=run-ranges.sh
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

# ---- dependencies, lookup (release) -------------------------------------------------------
command -v python3 >/dev/null || apt_install python3 python3-pip
for pkg in duckdb:duckdb maxminddb:maxminddb mmdb-writer:mmdb_writer netaddr:netaddr; do
  mod="${pkg#*:}"; pkg="${pkg%%:*}"
  if ! python3 -c "import $mod" 2>/dev/null; then
    say "pip install $pkg"
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    python3 -m pip install "$pkg" || python3 -m pip install --break-system-packages "$pkg"
    python3 -c "import $mod" || { echo "run-ranges.sh: the $pkg Python package did not install" >&2; exit 2; }
  fi
done
python3 -c 'import maxminddb.extension' 2>/dev/null ||
  echo "run-ranges.sh: note: maxminddb has no C extension here; the peer falls back to pure Python" >&2
mkdir -p "$WORK/bin" "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
if [ "$WITH_LOOKUP" -eq 1 ]; then
  ensure_deps
  swift_build_copy "$WORK/bin" lookup
fi

# ---- disk ----------------------------------------------------------------------------------
# Roughly: the data (two tables of about 50 bytes a row, two inputs of about 45 bytes a line),
# the tables in work/ranges (lmdb, duckdb, mmdb), the reference outputs of both jobs and two
# more outputs at once (about 75 bytes a hit, half the lines hit); W1's data, table and output.
NEED_MIB=$(( (ROWS * 1000 + FILES * LINES * 320) / 1048576 + 512 ))
[ "$WITH_W1" -eq 0 ] || NEED_MIB=$(( NEED_MIB + (W1_KEYS * 120 + FILES * LINES * 80) / 1048576 ))
mkdir -p "$BENCH/data" "$WORK"
FREE_MIB=$(df -Pm "$BENCH/data" | awk 'NR==2{print $4}')
[ "$FREE_MIB" -ge "$NEED_MIB" ] ||
  { echo "run-ranges.sh: about $NEED_MIB MiB of disk needed, $FREE_MIB MiB free in $BENCH/data" >&2; exit 2; }

# ---- workload -------------------------------------------------------------------------------
# DATA is made by this script (marked with .run-ranges) and removed only when it carries that mark.
DATA="$BENCH/data/ranges-rows$ROWS-files$FILES-lines$LINES-seed$SEED"
WANT="{\"files\": $FILES, \"generator\": \"Benchmarks/gen_ranges.py v1\", \"hit\": 0.5, \"jobs\": [\"ranges\", \"cidr\"], \"lines\": $LINES, \"rows\": $ROWS, \"seed\": $SEED}"
if [ -f "$DATA/params.json" ] && [ "$(cat "$DATA/params.json")" = "$WANT" ] && [ -f "$DATA/expected.json" ]; then
  say "reusing the workload in ${DATA#"$ROOT"/}"
else
  if [ -e "$DATA" ]; then
    [ -f "$DATA/.run-ranges" ] || fail "$DATA exists and was not made by run-ranges.sh; move it away"
    rm -rf "$DATA"
  fi
  say "generating the workload in ${DATA#"$ROOT"/}"
  mkdir -p "$DATA"
  : > "$DATA/.run-ranges"
  python3 "$BENCH/gen_ranges.py" "$DATA" --rows "$ROWS" --files "$FILES" --lines "$LINES" --hit 0.5 --seed "$SEED" --jobs "ranges cidr"
  [ "$(cat "$DATA/params.json")" = "$WANT" ] || fail "gen_ranges.py wrote an unexpected params.json"
fi
mapfile -t NAMES < <(cd "$DATA/ranges-input" && ls)
[ "${#NAMES[@]}" -eq "$FILES" ] || fail "expected $FILES input files in $DATA/ranges-input, found ${#NAMES[@]}"
[ "$(cd "$DATA/cidr-input" && ls | tr '\n' ' ')" = "$(printf '%s ' "${NAMES[@]}")" ] ||
  fail "$DATA/cidr-input does not hold the same file names as ranges-input"
expected() {  # expected JOB FIELD: from gen_ranges.py's expected.json
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$DATA/expected.json" "$1" "$2"
}

# W1, the exact-match reference workload: gen.py's table and input, in the directory (and
# with the parameters) run-batch.sh uses, so either script reuses the other's.
W1_DATA="$BENCH/data/keys$W1_KEYS-files$FILES-lines$LINES-seed$SEED"
if [ "$WITH_W1" -eq 1 ]; then
  W1_WANT="{\"files\": $FILES, \"generator\": \"Benchmarks/gen.py v1\", \"get_keys\": 0, \"hit\": 0.5, \"keys\": $W1_KEYS, \"lines\": $LINES, \"seed\": $SEED}"
  if [ -f "$W1_DATA/params.json" ] && [ "$(cat "$W1_DATA/params.json")" = "$W1_WANT" ] &&
     [ -f "$W1_DATA/table.csv" ] && [ -f "$W1_DATA/expected-hits" ]; then
    say "reusing the W1 workload in ${W1_DATA#"$ROOT"/}"
  else
    say "generating the W1 workload in ${W1_DATA#"$ROOT"/}"
    rm -rf "$W1_DATA"
    python3 "$BENCH/gen.py" "$W1_DATA" --keys "$W1_KEYS" --files "$FILES" --lines "$LINES" --get-keys 0 --hit 0.5 --seed "$SEED"
    [ "$(cat "$W1_DATA/params.json")" = "$W1_WANT" ] || fail "gen.py wrote an unexpected params.json"
    # Table keys are even, absent keys odd: the number of hits is known without a table.
    python3 - "$W1_DATA/input" > "$W1_DATA/expected-hits.tmp" <<'EOF'
import os, sys
d = sys.argv[1]
n = 0
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        n += sum(1 for line in f if int(line[:16], 16) % 2 == 0)
print(n)
EOF
    mv "$W1_DATA/expected-hits.tmp" "$W1_DATA/expected-hits"
  fi
  W1_HITS="$(cat "$W1_DATA/expected-hits")"
  [ "$(cd "$W1_DATA/input" && ls | wc -l)" -eq "$FILES" ] || fail "expected $FILES input files in $W1_DATA/input"
fi

# ---- work directory: every path below is one this script makes -------------------------------
# Paths are relative to $WORK so the recorded command lines read like the ones in the README.
cd "$WORK"
for j in ranges cidr; do
  ln -sfn "$DATA/$j.csv" "$j.csv"
  ln -sfn "$DATA/$j-input" "$j-input"
done
if [ "$WITH_W1" -eq 1 ]; then
  ln -sfn "$W1_DATA/table.csv" w1.csv
  ln -sfn "$W1_DATA/input" w1-input
fi
rm -rf out ref
mkdir -p out ref
RAW="$WORK/measurements.jsonl"
LOG="$WORK/stderr.log"
: > "$RAW"
: > "$LOG"

# shellcheck source=jobs-lib.sh
SCRIPT=run-ranges.sh
. "$BENCH/jobs-lib.sh"

# ---- the reference join, once, untimed ------------------------------------------------------------
for j in $JOBS; do
  say "$j: the reference join (peers/ranges_reference.py, plain Python; once, untimed)"
  got="$(python3 "$BENCH/peers/ranges_reference.py" "$j" "$j.csv" "$j-input" "ref/$j")"
  check_count "$j: the reference (its count)" "$got" "$(expected "$j" output_lines)"
  check_count "$j: the reference" "$(line_count "ref/$j")" "$(expected "$j" output_lines)"
done

# ---- the tables, once each ------------------------------------------------------------------
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
for j in $JOBS; do
  say "$j: the tables (once, timed apart)"
  cat "$j.csv" > /dev/null
  if [ "$WITH_LOOKUP" -eq 1 ]; then
    rm -f "$j.lmdb" "$j.lmdb-lock"
    if [ "$j" = ranges ]; then
      measure "$j" build "lookup build" 0 --stdout out/build-$j.out -- bin/lookup build ranges.csv --ranges --key-type ip -o ranges.lmdb
    else
      measure "$j" build "lookup build" 0 --stdout out/build-$j.out -- bin/lookup build cidr.csv --cidr -o cidr.lmdb
    fi
  fi
  rm -f "$j.duckdb" "$j.duckdb.wal"
  measure "$j" build "DuckDB load" 0 --stdout out/duckdb-load-$j.out -- python3 "$BENCH/peers/ranges_duckdb.py" load "$j" "$j.csv" "$j.duckdb"
  rm -f "$j.mmdb"
  measure "$j" build "maxminddb load" 0 --stdout out/maxmind-load-$j.out -- python3 "$BENCH/peers/ranges_maxmind.py" load "$j" "$j.csv" "$j.mmdb"
done
if [ "$WITH_W1" -eq 1 ]; then
  say "w1: lookup build (once, timed apart)"
  cat w1.csv > /dev/null
  rm -f w1.lmdb w1.lmdb-lock
  measure w1 build "lookup build" 0 --stdout out/build-w1.out -- bin/lookup build w1.csv -o w1.lmdb
fi

# ---- measurements ----------------------------------------------------------------------------
say "warming the page cache (inputs and tables)"
for j in $JOBS; do
  cat "$j-input"/* "$j.duckdb" "$j.mmdb" > /dev/null
  [ "$WITH_LOOKUP" -eq 0 ] || cat "$j.lmdb" > /dev/null
done
[ "$WITH_W1" -eq 0 ] || cat w1-input/* w1.lmdb > /dev/null

for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  for j in $JOBS; do
    rm -rf out && mkdir out
    want="$(expected "$j" output_lines)"
    if [ "$WITH_LOOKUP" -eq 1 ]; then
      measure "$j" join "lookup run" "$run" --stdout out/lookup-$j.stdout -- \
        bin/lookup run "$j.lmdb" "$j-input" -o "out/lookup-$j" -j "$WORKERS" --mode join -q
      same_output "$j: lookup run vs the reference" "out/lookup-$j" "ref/$j" && rm -rf "out/lookup-$j"
    fi

    measure "$j" join "DuckDB" "$run" --stdout out/duckdb-$j.stdout -- \
      python3 "$BENCH/peers/ranges_duckdb.py" join "$j" "$j.duckdb" "$j-input" "out/duckdb-$j" "$WORKERS"
    check_count "$j: DuckDB (its count)" "$(tr -d ' \n' < out/duckdb-$j.stdout)" "$want"
    same_output "$j: DuckDB vs the reference" "out/duckdb-$j" "ref/$j" && rm -rf "out/duckdb-$j"

    measure "$j" join "maxminddb" "$run" --stdout out/maxmind-$j.stdout -- \
      python3 "$BENCH/peers/ranges_maxmind.py" join "$j" "$j.mmdb" "$j-input" "out/maxmind-$j" "$WORKERS"
    check_count "$j: maxminddb (its count)" "$(tr -d ' \n' < out/maxmind-$j.stdout)" "$want"
    same_output "$j: maxminddb vs the reference" "out/maxmind-$j" "ref/$j" && rm -rf "out/maxmind-$j"
  done
  if [ "$WITH_W1" -eq 1 ]; then
    rm -rf out && mkdir out
    measure w1 join "lookup run" "$run" --stdout out/lookup-w1.stdout -- \
      bin/lookup run w1.lmdb w1-input -o out/lookup-w1 -j "$WORKERS" --mode join -q
    check_count "w1: lookup run" "$(line_count out/lookup-w1)" "$W1_HITS"
  fi
done
rm -rf out
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"

# ---- report -----------------------------------------------------------------------------------
say "results"
SIZES=""
for j in $JOBS; do
  SIZES+=" $j.csv=$(stat -L -c %s "$j.csv") $j-input=$(cat "$j-input"/* | wc -c)"
  SIZES+=" $j.duckdb=$(stat -c %s "$j.duckdb") $j.mmdb=$(stat -c %s "$j.mmdb")"
  [ "$WITH_LOOKUP" -eq 0 ] || SIZES+=" $j.lmdb=$(stat -c %s "$j.lmdb")"
done
[ "$WITH_W1" -eq 0 ] || SIZES+=" w1.csv=$(stat -L -c %s w1.csv) w1-input=$(cat w1-input/* | wc -c) w1.lmdb=$(stat -c %s w1.lmdb) w1-hits=$W1_HITS"
python3 "$BENCH/summarize_ranges.py" \
  --raw "$RAW" --out "$RESULTS/ranges" --expected "$DATA/expected.json" \
  --invocation "$INVOCATION" --rows "$ROWS" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
  --workers "$WORKERS" --jobs "$JOBS" --seed "$SEED" --w1-keys "$([ "$WITH_W1" -eq 0 ] && echo 0 || echo "$W1_KEYS")" \
  --sizes "${SIZES# }" --with-lookup "$WITH_LOOKUP" --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --git-dirty "$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l)" \
  --swift-version "$([ "$WITH_LOOKUP" -eq 0 ] || swift --version 2>/dev/null | head -n1)" \
  --python-version "$(python3 --version 2>&1)"
