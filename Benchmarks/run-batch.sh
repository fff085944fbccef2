#!/usr/bin/env bash
# Batch-join benchmark: `lookup run --mode join` against C, Python and mawk peers.
#
#   Benchmarks/run-batch.sh [--keys N] [--files F] [--lines L] [--runs R] [--workers "1 2 4"]
#                           [--peer-workers "1 2"] [--max-peer-keys K] [--out PREFIX]
#
#   --keys N       table rows (default 5000000)
#   --files F      input files (default 16)
#   --lines L      lines per input file, about half of them hits (default 1000000)
#   --runs R       measured runs of each command, interleaved (default 3)
#   --workers LIST worker counts of `lookup run`, space-separated (default "1 2 4")
#   --peer-workers LIST  worker counts of the peers, those also in --workers (default "1 2")
#   --max-peer-keys K    skip join_py_dict and mawk above K table rows (default 10000000):
#                  each holds the table in its own heap, in every worker for join_py_dict
#   --out PREFIX   results files PREFIX.md and PREFIX.json (default Benchmarks/results/batch-join)
#
# Steps: install missing deps (liblmdb-dev, lmdb-utils, mawk, python3, a C compiler, the
# lmdb Python package), build `lookup` in release mode, compile the C peer, generate (or
# reuse) the workload in Benchmarks/data/, build the table once with `lookup build`, warm
# the page cache, then in each run, for each W in LIST:
#   lookup run t.lmdb input -o DIR -j W --mode join -q
# and, when W is a peer worker count:
#   join_c_lmdb t.lmdb input DIR W data     join_py_lmdb.py t.lmdb input DIR W data
#   join_py_dict.py table.csv input DIR W
# then mawk's hash join (1 process), `lookup run -j Wp --mode count` and
# `lookup run -j Wp --start fork` (Wp: the largest peer W, 2 by default). Every output
# directory must be byte-identical to lookup's (cmp of every file), every hit count right.
# Writes PREFIX.{md,json}.
set -euo pipefail

KEYS=5000000
FILES=16
LINES=1000000
RUNS=3
WORKERS="1 2 4"
PEER_WORKERS="1 2"
MAX_PEER_KEYS=10000000
OUT=""
SEED=1
INVOCATION="Benchmarks/run-batch.sh${*:+ $*}"

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
    --files) FILES="${2:?--files needs a number}"; shift 2 ;;
    --lines) LINES="${2:?--lines needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --workers) WORKERS="${2:?--workers needs a list}"; shift 2 ;;
    --peer-workers) PEER_WORKERS="${2:?--peer-workers needs a list}"; shift 2 ;;
    --max-peer-keys) MAX_PEER_KEYS="${2:?--max-peer-keys needs a number}"; shift 2 ;;
    --out) OUT="${2:?--out needs a path prefix}"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run-batch.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$KEYS" "$FILES" "$LINES" "$RUNS" "$MAX_PEER_KEYS" $WORKERS $PEER_WORKERS; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run-batch.sh: not a positive number: $v" >&2; exit 2; }
done
[ -n "${WORKERS// /}" ] || { echo "run-batch.sh: --workers needs at least one number" >&2; exit 2; }
WORKERS="$(tr ' ' '\n' <<<"$WORKERS" | grep . | sort -n -u | tr '\n' ' ')"
WORKERS="${WORKERS% }"
# The peers run at the worker counts in both lists; the extra lookup rows at the largest.
PEER_WORKERS="$(for w in $PEER_WORKERS; do [[ " $WORKERS " != *" $w "* ]] || echo "$w"; done | sort -n -u | tr '\n' ' ')"
PEER_WORKERS="${PEER_WORKERS% }"
[ -n "$PEER_WORKERS" ] || { echo "run-batch.sh: no --peer-workers count is in --workers" >&2; exit 2; }
WMAX="${PEER_WORKERS##* }"
MEMORY_PEERS=1
[ "$KEYS" -le "$MAX_PEER_KEYS" ] || MEMORY_PEERS=0
TOTAL_LINES=$((FILES * LINES))

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/batch"
RESULTS="$BENCH/results"
fail() { echo "run-batch.sh: $*" >&2; exit 1; }
PROG=run-batch.sh
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

# ---- dependencies, lookup (release) and the C peer ----------------------------------
ensure_deps mawk py-lmdb
mkdir -p "$WORK/bin" "$RESULTS"
swift_build_copy "$WORK/bin" lookup
say "compiling the C peer"
cc -O2 -o "$WORK/bin/join_c_lmdb" "$BENCH/peers/join_c_lmdb.c" -llmdb

# ---- workload -------------------------------------------------------------------------
DATA="$BENCH/data/keys$KEYS-files$FILES-lines$LINES-seed$SEED"
WANT="{\"files\": $FILES, \"generator\": \"Benchmarks/gen.py v1\", \"get_keys\": 0, \"hit\": 0.5, \"keys\": $KEYS, \"lines\": $LINES, \"seed\": $SEED}"
if [ -f "$DATA/params.json" ] && [ "$(cat "$DATA/params.json")" = "$WANT" ] &&
   [ -f "$DATA/table.csv" ] && [ -f "$DATA/expected-hits" ]; then
  say "reusing the workload in ${DATA#"$ROOT"/}"
else
  say "generating the workload in ${DATA#"$ROOT"/}"
  rm -rf "$DATA"
  python3 "$BENCH/gen.py" "$DATA" --keys "$KEYS" --files "$FILES" --lines "$LINES" --get-keys 0 --hit 0.5 --seed "$SEED"
  [ "$(cat "$DATA/params.json")" = "$WANT" ] || { echo "run-batch.sh: gen.py wrote unexpected params.json" >&2; exit 2; }
  # Table keys are even, absent keys odd: the number of hits is known without a table.
  python3 - "$DATA/input" > "$DATA/expected-hits.tmp" <<'EOF'
import os, sys
d = sys.argv[1]
n = 0
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        n += sum(1 for line in f if int(line[:16], 16) % 2 == 0)
print(n)
EOF
  mv "$DATA/expected-hits.tmp" "$DATA/expected-hits"
fi
EXPECTED_HITS="$(cat "$DATA/expected-hits")"
mapfile -t NAMES < <(cd "$DATA/input" && ls)
[ "${#NAMES[@]}" -eq "$FILES" ] || fail "expected $FILES input files in $DATA/input, found ${#NAMES[@]}"

# ---- the table ----------------------------------------------------------------------------
# Paths are relative to $WORK so the recorded command lines read like the ones in the README.
cd "$WORK"
ln -sfn "$DATA/table.csv" table.csv
ln -sfn "$DATA/input" input
rm -rf out
mkdir -p out
RAW="$WORK/measurements.jsonl"
LOG="$WORK/stderr.log"
: > "$RAW"
: > "$LOG"

# measure NAME W RUN OK_EXITS [--stdin F] --stdout F -- CMD...  (measure.py prints its JSON on stdout)
measure() {
  local name="$1" w="$2" run="$3" ok="$4"; shift 4
  local line rc=0 load
  sync   # no writeback of the previous command's output left to slow this one
  load="$(cut -d' ' -f1 /proc/loadavg)"
  echo "--- $name run $run" >> "$LOG"
  line="$(python3 "$BENCH/measure.py" --label "$name" "$@" 2>>"$LOG")" || rc=$?
  if [ -z "$line" ] || [[ " $ok " != *" $rc "* ]]; then
    echo "run-batch.sh: $name (run $run) failed with exit status $rc; its stderr:" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  printf '{"run": %d, "workers": %d, "load1_before": %s, %s\n' "$run" "$w" "$load" "${line#\{}" >> "$RAW"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-22s run %s: %7.2f s  %7.1f MiB PSS" % (r["label"], sys.argv[2], r["wall_s"], r["peak_pss_mib"]))' "$line" "$run" >&2
}

say "lookup build table.csv -o t.lmdb (once)"
rm -f t.lmdb t.lmdb-lock
cat table.csv > /dev/null
measure "lookup build" 0 0 "0" --stdout build.out -- bin/lookup build table.csv -o t.lmdb
BUILD_LINE="$(tail -n 1 "$RAW")"
: > "$RAW"

# ---- checks ---------------------------------------------------------------------------------
# same_output DIR REF: DIR holds exactly the input names (hidden files aside), each
# byte-identical to REF's.
same_output() {
  local dir="$1" ref="$2" name got
  got="$(cd "$dir" && ls | tr '\n' ' ')"
  [ "$got" = "$(printf '%s ' "${NAMES[@]}")" ] || fail "$dir holds files [$got], expected one per input file"
  for name in "${NAMES[@]}"; do
    cmp "$ref/$name" "$dir/$name" >&2 || fail "$dir/$name differs from $ref/$name (both kept in $WORK/out)"
  done
}
check_hits() {  # check_hits WHAT FILE: FILE holds the hit count the peer printed
  local got
  got="$(tr -d ' \n' < "$2")"
  [ "$got" = "$EXPECTED_HITS" ] || fail "$1 reported $got hits, expected $EXPECTED_HITS"
}

# ---- measurements ------------------------------------------------------------------------
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
say "warming the page cache (table.csv, input/, t.lmdb)"
cat table.csv input/* t.lmdb > /dev/null   # page cache warm: nothing is dropped between runs
PY_LMDB="$BENCH/peers/join_py_lmdb.py"
PY_DICT="$BENCH/peers/join_py_dict.py"
# mawk's hash join; the output file is OUT/<the input's base name>, created (empty if
# nothing hits) at the input's first line.
MAWK_PROG='NR==FNR{a[$1]=$2;next} FNR==1{if(o)close(o); o=FILENAME; sub(/.*\//,"",o); o=OUT "/" o; printf "" > o} ($1 in a){print $0,a[$1] > o}'
INPUTS=()
for name in "${NAMES[@]}"; do INPUTS+=("input/$name"); done

for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  rm -rf out && mkdir out
  REF=""
  for w in $WORKERS; do
    measure "lookup join" "$w" "$run" "0" --stdout out/lookup-j$w.stdout -- \
      bin/lookup run t.lmdb input -o out/lookup-j$w -j "$w" --mode join -q
    hits=$(cd out/lookup-j$w && cat "${NAMES[@]}" | wc -l)
    [ "$hits" -eq "$EXPECTED_HITS" ] || fail "lookup run -j $w wrote $hits lines, expected $EXPECTED_HITS"
    if [ -z "$REF" ]; then REF="out/lookup-j$w"; else same_output "out/lookup-j$w" "$REF" && rm -rf "out/lookup-j$w"; fi
    [[ " $PEER_WORKERS " == *" $w "* ]] || continue

    mkdir -p out/c-j$w
    measure "join_c_lmdb" "$w" "$run" "0" --stdout out/c-j$w.stdout -- \
      bin/join_c_lmdb t.lmdb input out/c-j$w "$w" data
    check_hits "join_c_lmdb $w" out/c-j$w.stdout
    same_output out/c-j$w "$REF" && rm -rf out/c-j$w

    measure "join_py_lmdb" "$w" "$run" "0" --stdout out/py-lmdb-j$w.stdout -- \
      python3 "$PY_LMDB" t.lmdb input out/py-lmdb-j$w "$w" data
    check_hits "join_py_lmdb.py $w" out/py-lmdb-j$w.stdout
    same_output out/py-lmdb-j$w "$REF" && rm -rf out/py-lmdb-j$w

    [ "$MEMORY_PEERS" -eq 1 ] || continue
    measure "join_py_dict" "$w" "$run" "0" --stdout out/py-dict-j$w.stdout -- \
      python3 "$PY_DICT" table.csv input out/py-dict-j$w "$w"
    check_hits "join_py_dict.py $w" out/py-dict-j$w.stdout
    same_output out/py-dict-j$w "$REF" && rm -rf out/py-dict-j$w
  done

  if [ "$MEMORY_PEERS" -eq 1 ]; then
    mkdir -p out/mawk
    measure "mawk" 1 "$run" "0" --stdout out/mawk.stdout -- \
      mawk -F, -v OFS=, -v OUT=out/mawk "$MAWK_PROG" table.csv "${INPUTS[@]}"
    same_output out/mawk "$REF" && rm -rf out/mawk
  fi

  measure "lookup count" "$WMAX" "$run" "0" --stdout out/count.stdout -- \
    bin/lookup run t.lmdb input -o - -j "$WMAX" --mode count -q --summary-json out/count.json
  [ ! -s out/count.stdout ] || fail "lookup run --mode count wrote to standard output"
  got=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print(c["hits"], c["lines"])' out/count.json)
  [ "$got" = "$EXPECTED_HITS $TOTAL_LINES" ] || fail "lookup run --mode count counted [hits lines] $got, expected $EXPECTED_HITS $TOTAL_LINES"

  measure "lookup join fork" "$WMAX" "$run" "0" --stdout out/fork-j$WMAX.stdout -- \
    bin/lookup run t.lmdb input -o out/fork-j$WMAX -j "$WMAX" --start fork --mode join -q
  same_output out/fork-j$WMAX "$REF" && rm -rf out/fork-j$WMAX
done
rm -rf out
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"

# ---- report ---------------------------------------------------------------------------------
GIT_HEAD=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l)
INPUT_BYTES=$(cat input/* | wc -c)
SKIPPED=()
[ "$MEMORY_PEERS" -eq 1 ] || SKIPPED+=("join_py_dict.py and mawk: $KEYS table rows is above --max-peer-keys $MAX_PEER_KEYS; each loads the whole table into its own heap, join_py_dict once more per worker (at 5M rows join_py_dict held about 1.7 GiB with 1 worker and 2.4 GiB with 2, mawk about 0.6 GiB; scaled to $KEYS rows, about $((KEYS * 2458 / 5000000)) MiB and $((KEYS * 600 / 5000000)) MiB)")
say "results"
[ -n "$OUT" ] || OUT="$RESULTS/batch-join"
python3 "$BENCH/summarize_batch.py" \
  --raw "$RAW" --build "$BUILD_LINE" --out "$OUT" "${SKIPPED[@]/#/--skipped=}" \
  --invocation "$INVOCATION" --keys "$KEYS" --files "$FILES" --lines "$LINES" --runs "$RUNS" \
  --workers "$WORKERS" --peer-workers "$PEER_WORKERS" --seed "$SEED" --expected-hits "$EXPECTED_HITS" \
  --table-csv-bytes "$(stat -L -c %s table.csv)" --table-bytes "$(stat -c %s t.lmdb)" --input-bytes "$INPUT_BYTES" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" --git "$GIT_HEAD" --git-dirty "$GIT_DIRTY" \
  --lmdb-version "$(lmdb_version)" \
  --py-lmdb-version "$(python3 -c 'import lmdb; print(lmdb.__version__)')" \
  --python-version "$(python3 --version 2>&1)" \
  --mawk-version "$(mawk -W version 2>&1 | head -n1)" \
  --swift-version "$(swift --version 2>/dev/null | head -n1)" \
  --cc-version "$(cc --version | head -n1)" \
  --mawk-program "$MAWK_PROG"
