#!/usr/bin/env bash
# Update benchmark (issue 12): `lookup update` publishing a new version of a table as a small
# change layer, against a full `lookup build`, at two table sizes; and the W1 join through the
# updated table against a freshly built table of the same contents.
#
#   Benchmarks/run-updates.sh [--keys N] [--files F] [--lines L] [--runs R] [--workers W]
#                             [--change PCT] [--big | --no-big] [--big-keys N]
#                             [--big-change PCT] [--w50 DIR] [--results DIR]
#
#   --keys N        rows of the W1 table, gen.py's (default 5000000)
#   --files F       W1 join input files (default 16)
#   --lines L       lines per W1 input file, about half of them hits (default 1000000)
#   --runs R        measured runs of each command, interleaved (default 3)
#   --workers W     `lookup run -j W` of the join (default 2)
#   --change PCT    rows of the W1 table an update changes, in percent (default 1)
#   --big           also measure the big table (the default); --no-big skips it
#   --big-keys N    rows of the big table when gen.py makes it (default 50000000)
#   --big-change PCT  rows of the big table an update changes, in percent (default 0.1)
#   --w50 DIR       the big table is DIR/table.csv (lines key,value); by default gen.py's
#                   table of --big-keys rows in Benchmarks/data/ (reused, else generated)
#   --results DIR   writes DIR/updates.md and DIR/updates.jsonl (default Benchmarks/results)
#
# Steps: install what is missing (python3; liblmdb-dev for the Swift build), build `lookup` in
# release mode (a copy in work/updates/bin is measured), generate (or reuse) W1's workload with
# gen.py (the directory run-batch.sh and run-ranges.sh use) and the big table, then the change
# files of each size with gen_updates.py (seeded, in Benchmarks/data/updates-...): of PCT% of
# the rows, half existing keys given new values (up.csv), a quarter new keys (up.csv), a quarter
# existing keys deleted (del.txt); for W1 also applied.csv, the table after the changes.
# Per size (in work/updates/w1, work/updates/big), in each run, from nothing:
#   lookup build table.csv -o t.lmdb
#   lookup update t.lmdb --upsert up.csv --delete del.txt -q
# (t.lmdb and t.lmdb.versions/ are removed before each build: every update starts from a freshly
# built table). Then, once, on the last run's updated table: `lookup check t.lmdb` (must pass),
# its record count (`lookup versions --json`) against gen_updates.py's. W1 then builds
# fresh.lmdb from applied.csv (timed, once), checks that `lookup dump --format csv` of t.lmdb and
# fresh.lmdb are byte-identical, and in each run, page cache warm, in alternating order:
#   lookup run t.lmdb input -o out/updated -j W --mode join -q
#   lookup run fresh.lmdb input -o out/fresh -j W --mode join -q
# both outputs byte-identical, with gen_updates.py's hit count. Last, per size, once:
#   lookup compact t.lmdb -q        (W1: then `lookup check` and the dump against fresh.lmdb's)
# (the big table's files are then removed: two bases, about 5 GiB at 50M rows).
# Any difference stops the run with one line and exit status 1. Measured with measure.py (wall
# time, peak summed PSS/RSS of the process tree). Writes DIR/updates.{md,jsonl}
# (summarize_updates.py): medians, and the targets: update <= 10% of the build's wall time (W1),
# <= 3% (big); the join through the updated table <= 1.3x the fresh table's wall time.
set -euo pipefail

KEYS=5000000
FILES=16
LINES=1000000
RUNS=3
WORKERS=2
CHANGE=1
BIG=1
BIG_KEYS=50000000
BIG_CHANGE=0.1
W50=""
RESULTS=""
SEED=1
INVOCATION="Benchmarks/run-updates.sh${*:+ $*}"

usage() { sed -n '2,22s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
    --files) FILES="${2:?--files needs a number}"; shift 2 ;;
    --lines) LINES="${2:?--lines needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --workers) WORKERS="${2:?--workers needs a number}"; shift 2 ;;
    --change) CHANGE="${2:?--change needs a percentage}"; shift 2 ;;
    --big) BIG=1; shift ;;
    --no-big) BIG=0; shift ;;
    --big-keys) BIG_KEYS="${2:?--big-keys needs a number}"; shift 2 ;;
    --big-change) BIG_CHANGE="${2:?--big-change needs a percentage}"; shift 2 ;;
    --w50) W50="${2:?--w50 needs a directory}"; shift 2 ;;
    --results) RESULTS="${2:?--results needs a directory}"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run-updates.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$KEYS" "$FILES" "$LINES" "$RUNS" "$WORKERS" "$BIG_KEYS"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run-updates.sh: not a positive number: $v" >&2; exit 2; }
done
for v in "$CHANGE" "$BIG_CHANGE"; do
  [[ "$v" =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v p="$v" 'BEGIN { exit !(p > 0 && p <= 50) }' ||
    { echo "run-updates.sh: not a percentage above 0 and at most 50: $v" >&2; exit 2; }
done
if [ -n "$W50" ]; then
  [ -f "$W50/table.csv" ] || { echo "run-updates.sh: no table.csv in $W50" >&2; exit 2; }
  W50="$(cd "$W50" && pwd)"
fi

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/updates"
RESULTS="${RESULTS:-$BENCH/results}"
fail() { echo "run-updates.sh: $*" >&2; exit 1; }
PROG=run-updates.sh
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

# ---- dependencies, lookup (release) -------------------------------------------------------
command -v python3 >/dev/null || apt_install python3 python3-pip
ensure_deps
mkdir -p "$WORK/bin" "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
swift_build_copy "$WORK/bin" lookup
LOOKUP="$WORK/bin/lookup"

# ---- disk ----------------------------------------------------------------------------------
# Roughly: W1's data (34 bytes a row, 46 an input line) and applied.csv; its tables (about 52
# bytes a row: the built base, fresh.lmdb, the compacted base beside the old one) and two join
# outputs at once (half the lines hit, about 64 bytes an output line); the big table's csv, two
# bases (compaction keeps the old) and the build's sort spill.
NEED_MIB=$(( (KEYS * (2 * 34 + 3 * 52) + FILES * LINES * (46 + 64)) / 1048576 + 512 ))
[ "$BIG" -eq 0 ] || NEED_MIB=$(( NEED_MIB + BIG_KEYS * (34 + 2 * 52 + 34) / 1048576 ))
mkdir -p "$BENCH/data" "$WORK"
FREE_MIB=$(df -Pm "$BENCH/data" | awk 'NR==2{print $4}')
[ "$FREE_MIB" -ge "$NEED_MIB" ] ||
  { echo "run-updates.sh: about $NEED_MIB MiB of disk needed, $FREE_MIB MiB free in $BENCH/data" >&2; exit 2; }

# ---- workload -------------------------------------------------------------------------------
# W1, the reference workload: gen.py's table and input, in the directory (and with the
# parameters) run-batch.sh and run-ranges.sh use, so each script reuses the others'.
W1_DATA="$BENCH/data/keys$KEYS-files$FILES-lines$LINES-seed$SEED"
W1_WANT="{\"files\": $FILES, \"generator\": \"Benchmarks/gen.py v1\", \"get_keys\": 0, \"hit\": 0.5, \"keys\": $KEYS, \"lines\": $LINES, \"seed\": $SEED}"
if [ -f "$W1_DATA/params.json" ] && [ "$(cat "$W1_DATA/params.json")" = "$W1_WANT" ] && [ -f "$W1_DATA/table.csv" ]; then
  say "reusing the W1 workload in ${W1_DATA#"$ROOT"/}"
else
  say "generating the W1 workload in ${W1_DATA#"$ROOT"/}"
  rm -rf "$W1_DATA"
  python3 "$BENCH/gen.py" "$W1_DATA" --keys "$KEYS" --files "$FILES" --lines "$LINES" --get-keys 0 --hit 0.5 --seed "$SEED"
  [ "$(cat "$W1_DATA/params.json")" = "$W1_WANT" ] || fail "gen.py wrote an unexpected params.json"
fi
mapfile -t NAMES < <(cd "$W1_DATA/input" && ls)
[ "${#NAMES[@]}" -eq "$FILES" ] || fail "expected $FILES input files in $W1_DATA/input, found ${#NAMES[@]}"

# The big table: --w50 DIR, else gen.py's table of BIG_KEYS rows from any directory run.sh or
# run-batch.sh made (the table does not depend on the other parameters), else a new one.
BIG_DATA=""
if [ "$BIG" -eq 1 ]; then
  if [ -n "$W50" ]; then
    BIG_DATA="$W50"
    say "the big table: ${BIG_DATA}/table.csv"
  else
    for d in "$BENCH/data/keys$BIG_KEYS"-*-seed"$SEED"; do
      [ -f "$d/table.csv" ] && [ -f "$d/params.json" ] || continue
      python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); sys.exit(not (p.get("generator") == "Benchmarks/gen.py v1" and p.get("keys") == int(sys.argv[2]) and p.get("seed") == int(sys.argv[3])))' \
        "$d/params.json" "$BIG_KEYS" "$SEED" || continue
      BIG_DATA="$d"
      break
    done
    if [ -n "$BIG_DATA" ]; then
      say "reusing the big table in ${BIG_DATA#"$ROOT"/}"
    else
      BIG_DATA="$BENCH/data/keys$BIG_KEYS-get0-seed$SEED"   # run.sh's name for this table and no keys
      say "generating the big table in ${BIG_DATA#"$ROOT"/}"
      rm -rf "$BIG_DATA"
      python3 "$BENCH/gen.py" "$BIG_DATA" --keys "$BIG_KEYS" --files 0 --lines 0 --get-keys 0 --hit 0.5 --seed "$SEED"
    fi
  fi
fi

# changes DIR TABLE PCT [--applied --input DIR]: gen_updates.py's change files in DIR, reused
# when its params.json matches (the same table file, size and mtime, PCT, seed). DIR is made by
# this script (marked with .run-updates) and removed only when it carries that mark.
changes() {
  local dir="$1" table="$2" pct="$3" want
  shift 3
  want="$(python3 "$BENCH/gen_updates.py" "$table" "$dir" --percent "$pct" --seed "$SEED" "$@" --print-params)"
  if [ -f "$dir/params.json" ] && [ "$(cat "$dir/params.json")" = "$want" ] && [ -f "$dir/expected.json" ]; then
    say "reusing the change files in ${dir#"$ROOT"/}"
    return
  fi
  if [ -e "$dir" ]; then
    [ -f "$dir/.run-updates" ] || fail "$dir exists and was not made by run-updates.sh; move it away"
    rm -rf "$dir"
  fi
  say "generating the change files ($pct% of the rows) in ${dir#"$ROOT"/}"
  mkdir -p "$dir"
  : > "$dir/.run-updates"
  python3 "$BENCH/gen_updates.py" "$table" "$dir" --percent "$pct" --seed "$SEED" "$@"
  [ "$(cat "$dir/params.json")" = "$want" ] || fail "gen_updates.py wrote an unexpected params.json"
}
W1_CHANGES="$BENCH/data/updates-keys$KEYS-files$FILES-lines$LINES-pct$CHANGE-seed$SEED"
changes "$W1_CHANGES" "$W1_DATA/table.csv" "$CHANGE" --applied --input "$W1_DATA/input"
expected() {  # expected DIR FIELD: from gen_updates.py's expected.json
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/expected.json" "$2"
}
# The W1 directory is complete for run-batch.sh and run-ranges.sh with its hit count (table
# keys even, absent keys odd), which gen_updates.py counted.
[ -f "$W1_DATA/expected-hits" ] || expected "$W1_CHANGES" hits_before > "$W1_DATA/expected-hits"
if [ "$BIG" -eq 1 ]; then
  BIG_CHANGES="$BENCH/data/updates-big-$(basename "$BIG_DATA")-pct$BIG_CHANGE-seed$SEED"
  changes "$BIG_CHANGES" "$BIG_DATA/table.csv" "$BIG_CHANGE"
fi

# ---- work directory: every path below is one this script makes -------------------------------
# Paths are relative to each size's directory so the recorded command lines read like the
# README's: the same names at both sizes.
SIZE_JOBS="w1"
[ "$BIG" -eq 0 ] || SIZE_JOBS="w1 big"
rm -rf "$WORK/w1" "$WORK/big"
mkdir -p "$WORK/w1/out"
ln -sfn "$W1_DATA/table.csv" "$WORK/w1/table.csv"
ln -sfn "$W1_DATA/input" "$WORK/w1/input"
for f in up.csv del.txt applied.csv; do ln -sfn "$W1_CHANGES/$f" "$WORK/w1/$f"; done
if [ "$BIG" -eq 1 ]; then
  mkdir -p "$WORK/big/out"
  ln -sfn "$BIG_DATA/table.csv" "$WORK/big/table.csv"
  for f in up.csv del.txt; do ln -sfn "$BIG_CHANGES/$f" "$WORK/big/$f"; done
fi
RAW="$WORK/measurements.jsonl"
LOG="$WORK/stderr.log"
: > "$RAW"
: > "$LOG"

# shellcheck source=jobs-lib.sh
SCRIPT=run-updates.sh
. "$BENCH/jobs-lib.sh"

records_now() {  # records_now TABLE: the current version's records, from `lookup versions --json`
  "$LOOKUP" versions "$1" --json | python3 -c 'import json,sys; print(next(v["records"] for v in json.load(sys.stdin) if v["isCurrent"]))'
}
same_dump() {  # same_dump WHAT A B: `lookup dump --format csv` of tables A and B byte-identical
  cmp -s <("$LOOKUP" dump "$2" --format csv) <("$LOOKUP" dump "$3" --format csv) ||
    fail "$1: TABLES DIFFER: \`lookup dump $2 --format csv\` and \`lookup dump $3 --format csv\` are not byte-identical (kept in $WORK)"
}

# ---- update vs build, per size ---------------------------------------------------------------
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
SIZES=""
for job in $SIZE_JOBS; do
  cd "$WORK/$job"
  dir="$W1_CHANGES"
  [ "$job" = w1 ] || dir="$BIG_CHANGES"
  say "$job: lookup build, then lookup update ($(expected "$dir" upserted) upserts, $(expected "$dir" deleted) deletes), $RUNS runs"
  cat table.csv up.csv del.txt > /dev/null
  ln -sfn "$(cd "$WORK/bin" && pwd)" bin
  for run in $(seq 1 "$RUNS"); do
    rm -rf t.lmdb t.lmdb-lock t.lmdb.versions
    measure "$job" build "lookup build" "$run" --stdout out/build.out -- bin/lookup build table.csv -o t.lmdb
    measure "$job" update "lookup update" "$run" --stdout out/update.out -- \
      bin/lookup update t.lmdb --upsert up.csv --delete del.txt -q
  done
  check_count "$job: the updated table's records" "$(records_now t.lmdb)" "$(expected "$dir" rows_after)"
  SIZES+=" $job-table.csv=$(stat -L -c %s table.csv) $job-up.csv=$(stat -L -c %s up.csv) $job-del.txt=$(stat -L -c %s del.txt)"
  SIZES+=" $job-base=$(stat -c %s t.lmdb.versions/v000001.lmdb) $job-layer=$(stat -c %s t.lmdb)"

  say "$job: lookup check of the updated table"
  measure "$job" check "lookup check" 1 --stdout out/check.out -- bin/lookup check t.lmdb
  cat out/check.out >&2

  if [ "$job" = w1 ]; then
    say "w1: the fresh table of the same contents (lookup build applied.csv, once)"
    cat applied.csv > /dev/null
    rm -f fresh.lmdb fresh.lmdb-lock
    measure w1 fresh-build "lookup build" 1 --stdout out/fresh-build.out -- bin/lookup build applied.csv -o fresh.lmdb
    SIZES+=" w1-fresh=$(stat -c %s fresh.lmdb) w1-input=$(cat input/* | wc -c)"
    same_dump "w1: the updated table vs the fresh one" t.lmdb fresh.lmdb

    say "w1: the join through the updated table and through the fresh one, $RUNS runs"
    cat input/* t.lmdb t.lmdb.versions/v*.lmdb fresh.lmdb > /dev/null   # page cache warm
    want="$(expected "$W1_CHANGES" hits_after)"
    for run in $(seq 1 "$RUNS"); do
      say "w1 join: run $run of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
      rm -rf out/updated out/fresh
      order="updated fresh"
      [ $((run % 2)) -eq 1 ] || order="fresh updated"
      for which in $order; do
        table=t.lmdb
        [ "$which" = updated ] || table=fresh.lmdb
        measure w1 join "lookup run ($which)" "$run" --stdout "out/$which.stdout" -- \
          bin/lookup run "$table" input -o "out/$which" -j "$WORKERS" --mode join -q
        check_count "w1: lookup run through $table" "$(line_count "out/$which")" "$want"
      done
      same_output "w1: the join through t.lmdb (updated) vs fresh.lmdb" out/updated out/fresh
      rm -rf out/updated out/fresh
    done
  fi

  say "$job: lookup compact (once)"
  measure "$job" compact "lookup compact" 1 --stdout out/compact.out -- bin/lookup compact t.lmdb -q
  check_count "$job: the compacted table's records" "$(records_now t.lmdb)" "$(expected "$dir" rows_after)"
  if [ "$job" = w1 ]; then
    bin/lookup check t.lmdb >&2 || fail "w1: lookup check of the compacted table failed"
    same_dump "w1: the compacted table vs the fresh one" t.lmdb fresh.lmdb
  fi
done
cd "$WORK"
# The big table's two bases (about 5 GiB at 50M rows) are not kept; W1's tables are.
rm -rf big/t.lmdb big/t.lmdb-lock big/t.lmdb.versions
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"

# ---- report -----------------------------------------------------------------------------------
say "results"
EXPECTED_ARGS=(--expected-w1 "$W1_CHANGES/expected.json")
[ "$BIG" -eq 0 ] || EXPECTED_ARGS+=(--expected-big "$BIG_CHANGES/expected.json" --big-table "$BIG_DATA/table.csv")
python3 "$BENCH/summarize_updates.py" \
  --raw "$RAW" --out "$RESULTS/updates" "${EXPECTED_ARGS[@]}" \
  --invocation "$INVOCATION" --keys "$KEYS" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
  --workers "$WORKERS" --change "$CHANGE" --big-change "$BIG_CHANGE" --seed "$SEED" --sizes "${SIZES# }" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --git-dirty "$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l)" \
  --swift-version "$(swift --version 2>/dev/null | head -n1)" \
  --python-version "$(python3 --version 2>&1)"
