#!/usr/bin/env bash
# Join kinds benchmark (issue 11): a one-to-many join and a composite-key join, `lookup run`
# against DuckDB and Polars doing the same job.
#
#   Benchmarks/run-joins.sh [--keys N] [--files F] [--lines L] [--runs R] [--workers W]
#                           [--jobs "many comp"] [--results DIR] [--no-lookup] [--sorted]
#
#   --keys N       rows of each table (default 5000000; one-to-many: about N/3 distinct keys)
#   --files F      input files per job (default 16)
#   --lines L      lines per input file, about half of them hits (default 1000000)
#   --runs R       measured runs of each command, interleaved (default 3)
#   --workers W    `lookup run -j W`, DuckDB's threads, POLARS_MAX_THREADS (default 2)
#   --jobs LIST    many (one-to-many) and/or comp (composite key) (default "many comp")
#   --results DIR  writes DIR/joins.md and DIR/joins.jsonl (default Benchmarks/results;
#                  with --no-lookup, Benchmarks/work/joins-peers)
#   --no-lookup    measure only the peers (DuckDB is then the reference): a check of the
#                  harness, and of the peers against each other, without a `lookup` build
#   --sorted       accept an output with the reference's lines in another order (the check
#                  compares sorted copies); by default every file must be byte-identical
#
# Steps: install what is missing (python3, duckdb, polars; liblmdb-dev for the Swift build),
# build `lookup` in release mode (a copy in work/joins/bin is measured), generate (or reuse)
# the workload with gen_joins.py in Benchmarks/data/joins-..., then per job, once, timed:
#   many: lookup build many.csv --duplicates all -o many.lmdb
#   comp: lookup build comp.csv -k 1,2 -o comp.lmdb
#   joins_duckdb.py load JOB JOB.csv JOB.duckdb     joins_polars.py load JOB JOB.csv JOB.arrow
# then, page cache warm, in each run, for each job:
#   lookup run many.lmdb many-input -o out/lookup-many -j W --mode join -q
#   lookup run comp.lmdb comp-input -k 1,2 -o out/lookup-comp -j W --mode join -q
#   joins_duckdb.py join JOB JOB.duckdb JOB-input out/duckdb-JOB W
#   joins_polars.py join JOB JOB.arrow JOB-input out/polars-JOB W
# Every output directory must hold one file per input file, each identical to lookup's, with
# exactly the lines gen_joins.py expects; any difference stops the run with one line and
# exit status 1 (the outputs kept in work/joins/out). Measured with measure.py (wall time,
# peak summed PSS/RSS of the process tree). Writes DIR/joins.{md,jsonl} (summarize_joins.py):
# medians, and the targets lookup/DuckDB and lookup/Polars <= 0.5 in wall time and in memory.
set -euo pipefail

KEYS=5000000
FILES=16
LINES=1000000
RUNS=3
WORKERS=2
JOBS="many comp"
RESULTS=""
WITH_LOOKUP=1
SORTED=0
SEED=1
INVOCATION="Benchmarks/run-joins.sh${*:+ $*}"

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
    --files) FILES="${2:?--files needs a number}"; shift 2 ;;
    --lines) LINES="${2:?--lines needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --workers) WORKERS="${2:?--workers needs a number}"; shift 2 ;;
    --jobs) JOBS="${2:?--jobs needs a list}"; shift 2 ;;
    --results) RESULTS="${2:?--results needs a directory}"; shift 2 ;;
    --no-lookup) WITH_LOOKUP=0; shift ;;
    --sorted) SORTED=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run-joins.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$KEYS" "$FILES" "$LINES" "$RUNS" "$WORKERS"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run-joins.sh: not a positive number: $v" >&2; exit 2; }
done
for j in $JOBS; do
  [[ "$j" == many || "$j" == comp ]] || { echo "run-joins.sh: --jobs takes many and/or comp, not $j" >&2; exit 2; }
done
[ -n "${JOBS// /}" ] || { echo "run-joins.sh: --jobs needs many and/or comp" >&2; exit 2; }

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/joins"
if [ -z "$RESULTS" ]; then
  if [ "$WITH_LOOKUP" -eq 1 ]; then RESULTS="$BENCH/results"; else RESULTS="$BENCH/work/joins-peers"; fi
fi
fail() { echo "run-joins.sh: $*" >&2; exit 1; }
PROG=run-joins.sh
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

# ---- dependencies, lookup (release) -------------------------------------------------------
command -v python3 >/dev/null || apt_install python3 python3-pip
for mod in duckdb polars; do
  if ! python3 -c "import $mod" 2>/dev/null; then
    say "pip install $mod"
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    python3 -m pip install "$mod" || python3 -m pip install --break-system-packages "$mod"
    python3 -c "import $mod" || { echo "run-joins.sh: the $mod Python package did not install" >&2; exit 2; }
  fi
done
mkdir -p "$WORK/bin" "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
if [ "$WITH_LOOKUP" -eq 1 ]; then
  ensure_deps
  swift_build_copy "$WORK/bin" lookup
fi

# ---- disk ----------------------------------------------------------------------------------
# Roughly: the data (two tables, two inputs of about 50 bytes a line), the tables in work/joins
# (lmdb, duckdb, arrow), and two output directories of the one-to-many join at once (about 1.5
# output lines of 73 bytes an input line).
NEED_MIB=$(( (KEYS * 600 + FILES * LINES * 320) / 1048576 + 512 ))
mkdir -p "$BENCH/data" "$WORK"
FREE_MIB=$(df -Pm "$BENCH/data" | awk 'NR==2{print $4}')
[ "$FREE_MIB" -ge "$NEED_MIB" ] ||
  { echo "run-joins.sh: about $NEED_MIB MiB of disk needed, $FREE_MIB MiB free in $BENCH/data" >&2; exit 2; }

# ---- workload -------------------------------------------------------------------------------
# DATA is made by this script (marked with .run-joins) and removed only when it carries that mark.
DATA="$BENCH/data/joins-rows$KEYS-files$FILES-lines$LINES-seed$SEED"
WANT="{\"files\": $FILES, \"generator\": \"Benchmarks/gen_joins.py v1\", \"hit\": 0.5, \"jobs\": [\"many\", \"comp\"], \"lines\": $LINES, \"rows\": $KEYS, \"seed\": $SEED}"
if [ -f "$DATA/params.json" ] && [ "$(cat "$DATA/params.json")" = "$WANT" ] && [ -f "$DATA/expected.json" ]; then
  say "reusing the workload in ${DATA#"$ROOT"/}"
else
  if [ -e "$DATA" ]; then
    [ -f "$DATA/.run-joins" ] || fail "$DATA exists and was not made by run-joins.sh; move it away"
    rm -rf "$DATA"
  fi
  say "generating the workload in ${DATA#"$ROOT"/}"
  mkdir -p "$DATA"
  : > "$DATA/.run-joins"
  python3 "$BENCH/gen_joins.py" "$DATA" --rows "$KEYS" --files "$FILES" --lines "$LINES" --hit 0.5 --seed "$SEED" --jobs "many comp"
  [ "$(cat "$DATA/params.json")" = "$WANT" ] || fail "gen_joins.py wrote an unexpected params.json"
fi
mapfile -t NAMES < <(cd "$DATA/many-input" && ls)
[ "${#NAMES[@]}" -eq "$FILES" ] || fail "expected $FILES input files in $DATA/many-input, found ${#NAMES[@]}"
[ "$(cd "$DATA/comp-input" && ls | tr '\n' ' ')" = "$(printf '%s ' "${NAMES[@]}")" ] ||
  fail "$DATA/comp-input does not hold the same file names as many-input"
expected() {  # expected JOB FIELD: from gen_joins.py's expected.json
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$DATA/expected.json" "$1" "$2"
}

# ---- work directory: every path below is one this script makes -------------------------------
# Paths are relative to $WORK so the recorded command lines read like the ones in the README.
cd "$WORK"
for j in many comp; do
  ln -sfn "$DATA/$j.csv" "$j.csv"
  ln -sfn "$DATA/$j-input" "$j-input"
done
rm -rf out
mkdir -p out
RAW="$WORK/measurements.jsonl"
LOG="$WORK/stderr.log"
: > "$RAW"
: > "$LOG"

# shellcheck source=jobs-lib.sh
SCRIPT=run-joins.sh
. "$BENCH/jobs-lib.sh"

# ---- the tables, once each ------------------------------------------------------------------
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
for j in $JOBS; do
  say "$j: the tables (once, timed apart)"
  cat "$j.csv" > /dev/null
  if [ "$WITH_LOOKUP" -eq 1 ]; then
    rm -f "$j.lmdb" "$j.lmdb-lock"
    if [ "$j" = many ]; then
      measure "$j" build "lookup build" 0 --stdout out/build-$j.out -- bin/lookup build many.csv --duplicates all -o many.lmdb
    else
      measure "$j" build "lookup build" 0 --stdout out/build-$j.out -- bin/lookup build comp.csv -k 1,2 -o comp.lmdb
    fi
  fi
  rm -f "$j.duckdb" "$j.duckdb.wal"
  measure "$j" build "DuckDB load" 0 --stdout out/duckdb-load-$j.out -- python3 "$BENCH/peers/joins_duckdb.py" load "$j" "$j.csv" "$j.duckdb"
  rm -f "$j.arrow"
  measure "$j" build "Polars load" 0 --stdout out/polars-load-$j.out -- python3 "$BENCH/peers/joins_polars.py" load "$j" "$j.csv" "$j.arrow"
done

# ---- measurements ----------------------------------------------------------------------------
say "warming the page cache (inputs and tables)"
for j in $JOBS; do
  cat "$j-input"/* "$j.duckdb" "$j.arrow" > /dev/null
  [ "$WITH_LOOKUP" -eq 0 ] || cat "$j.lmdb" > /dev/null
done

for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  for j in $JOBS; do
    rm -rf out && mkdir out
    want="$(expected "$j" output_lines)"
    ref=""
    if [ "$WITH_LOOKUP" -eq 1 ]; then
      if [ "$j" = many ]; then
        measure "$j" join "lookup run" "$run" --stdout out/lookup-$j.stdout -- \
          bin/lookup run many.lmdb many-input -o out/lookup-many -j "$WORKERS" --mode join -q
      else
        measure "$j" join "lookup run" "$run" --stdout out/lookup-$j.stdout -- \
          bin/lookup run comp.lmdb comp-input -k 1,2 -o out/lookup-comp -j "$WORKERS" --mode join -q
      fi
      check_count "$j: lookup run" "$(line_count out/lookup-$j)" "$want"
      ref="out/lookup-$j"
    fi

    measure "$j" join "DuckDB" "$run" --stdout out/duckdb-$j.stdout -- \
      python3 "$BENCH/peers/joins_duckdb.py" join "$j" "$j.duckdb" "$j-input" "out/duckdb-$j" "$WORKERS"
    check_count "$j: DuckDB (its count)" "$(tr -d ' \n' < out/duckdb-$j.stdout)" "$want"
    if [ -z "$ref" ]; then
      check_count "$j: DuckDB" "$(line_count out/duckdb-$j)" "$want"
      ref="out/duckdb-$j"
    else
      same_output "$j: DuckDB vs lookup" "out/duckdb-$j" "$ref" && rm -rf "out/duckdb-$j"
    fi

    measure "$j" join "Polars" "$run" --stdout out/polars-$j.stdout -- \
      python3 "$BENCH/peers/joins_polars.py" join "$j" "$j.arrow" "$j-input" "out/polars-$j" "$WORKERS"
    check_count "$j: Polars (its count)" "$(tr -d ' \n' < out/polars-$j.stdout)" "$want"
    same_output "$j: Polars vs ${ref#out/}" "out/polars-$j" "$ref" && rm -rf "out/polars-$j"
  done
done
rm -rf out
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"

# ---- report -----------------------------------------------------------------------------------
say "results"
SIZES=""
for j in $JOBS; do
  SIZES+=" $j.csv=$(stat -L -c %s "$j.csv") $j-input=$(cat "$j-input"/* | wc -c)"
  SIZES+=" $j.duckdb=$(stat -c %s "$j.duckdb") $j.arrow=$(stat -c %s "$j.arrow")"
  [ "$WITH_LOOKUP" -eq 0 ] || SIZES+=" $j.lmdb=$(stat -c %s "$j.lmdb")"
done
python3 "$BENCH/summarize_joins.py" \
  --raw "$RAW" --out "$RESULTS/joins" --expected "$DATA/expected.json" \
  --invocation "$INVOCATION" --keys "$KEYS" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
  --workers "$WORKERS" --jobs "$JOBS" --seed "$SEED" --sizes "${SIZES# }" --sorted "$SORTED" \
  --with-lookup "$WITH_LOOKUP" --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --git-dirty "$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l)" \
  --swift-version "$([ "$WITH_LOOKUP" -eq 0 ] || swift --version 2>/dev/null | head -n1)" \
  --python-version "$(python3 --version 2>&1)"
