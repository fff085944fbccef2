#!/usr/bin/env bash
# Build/get benchmark: `lookup build`, `lookup get` and the Swift API's point lookups against
# straightforward C on liblmdb (and a py-lmdb builder).
#
#   Benchmarks/run.sh [--keys N] [--runs R] [--get-keys M] [--memory SIZE] [--out PREFIX]
#                     [--max-peer-keys K] [--c-only]
#
#   --keys N      table rows (default 5000000)
#   --runs R      measured runs of each command, interleaved (default 3)
#   --get-keys M  keys fed to `get` and the API lookups, about half present (default 1000000)
#   --memory SIZE `lookup build --memory` (default 1G, passed explicitly)
#   --out PREFIX  results files PREFIX.md and PREFIX.json (default Benchmarks/results/build-get)
#   --max-peer-keys K  skip the py-lmdb builder above K table rows (default 10000000)
#   --c-only      skip the Swift build and measure only the C peers (to check the harness)
#
# Steps: install missing deps (liblmdb-dev, lmdb-utils, python3, a C compiler, the lmdb
# Python package), build `lookup` and `lookup-api-bench` in release mode, compile the C
# peers, generate (or reuse) the workload in Benchmarks/data/, warm the page cache, then for
# each run measure in this order:
#   lookup build --memory SIZE table.csv -o t.lmdb   build_c_lmdb table.csv t_c.lmdb
#   build_py_lmdb.py table.csv t_py.lmdb
#   lookup get t.lmdb < keys.txt > out    get_c_lmdb t_c.lmdb < keys.txt > out_c
#   lookup-api-bench t.lmdb keys.txt --mode one    lookup-api-bench ... --mode batch
#   get_api_c_lmdb t.lmdb keys.txt data
# and check that both gets printed the same bytes, all tables hold the same records and the
# three API loops agree on hits and value bytes. Writes PREFIX.{md,json}.
set -euo pipefail

KEYS=5000000
RUNS=3
GET_KEYS=1000000
SEED=1
C_ONLY=0
MEMORY=1G
OUT=""
MAX_PEER_KEYS=10000000
INVOCATION="Benchmarks/run.sh${*:+ $*}"

usage() { sed -n '2,15s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --get-keys) GET_KEYS="${2:?--get-keys needs a number}"; shift 2 ;;
    --memory) MEMORY="${2:?--memory needs a size}"; shift 2 ;;
    --out) OUT="${2:?--out needs a path prefix}"; shift 2 ;;
    --max-peer-keys) MAX_PEER_KEYS="${2:?--max-peer-keys needs a number}"; shift 2 ;;
    --c-only) C_ONLY=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$KEYS" "$RUNS" "$GET_KEYS" "$MAX_PEER_KEYS"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run.sh: not a positive number: $v" >&2; exit 2; }
done

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work"
RESULTS="$BENCH/results"
PROG=run.sh
# shellcheck source=lib.sh
. "$BENCH/lib.sh"

# ---- dependencies -------------------------------------------------------------------
ensure_deps py-lmdb
PY_BUILD=1
[ "$KEYS" -le "$MAX_PEER_KEYS" ] || PY_BUILD=0
SKIPPED=()
[ "$PY_BUILD" -eq 1 ] || SKIPPED+=("build_py_lmdb.py: $KEYS rows is above --max-peer-keys $MAX_PEER_KEYS; it holds every row as Python objects (about 170 bytes a row, so $((KEYS * 170 / 1048576)) MiB)")

# ---- lookup (release) and the C peers ------------------------------------------------
mkdir -p "$WORK/bin" "$RESULTS"
if [ "$C_ONLY" -eq 0 ]; then
  swift_build_copy "$WORK/bin" lookup lookup-api-bench
  LOOKUP="$WORK/bin/lookup"
fi
say "compiling the C peers"
for peer in build_c_lmdb get_c_lmdb get_api_c_lmdb; do
  cc -O2 -o "$WORK/bin/$peer" "$BENCH/peers/$peer.c" -llmdb
done

# ---- workload -------------------------------------------------------------------------
DATA="$BENCH/data/keys$KEYS-get$GET_KEYS-seed$SEED"
WANT="{\"files\": 0, \"generator\": \"Benchmarks/gen.py v1\", \"get_keys\": $GET_KEYS, \"hit\": 0.5, \"keys\": $KEYS, \"lines\": 0, \"seed\": $SEED}"
if [ -f "$DATA/params.json" ] && [ "$(cat "$DATA/params.json")" = "$WANT" ] &&
   [ -f "$DATA/table.csv" ] && [ -f "$DATA/keys.txt" ]; then
  say "reusing the workload in ${DATA#"$ROOT"/}"
else
  say "generating the workload in ${DATA#"$ROOT"/}"
  rm -rf "$DATA"
  # The build/get benchmark reads only table.csv and keys.txt: no join input files.
  python3 "$BENCH/gen.py" "$DATA" --keys "$KEYS" --get-keys "$GET_KEYS" --files 0 --lines 0 --hit 0.5 --seed "$SEED"
  [ "$(cat "$DATA/params.json")" = "$WANT" ] || { echo "run.sh: gen.py wrote unexpected params.json" >&2; exit 2; }
fi

# ---- measurements ------------------------------------------------------------------------
# Paths are relative to $WORK so the recorded command lines read like the ones in the README.
cd "$WORK"
ln -sfn "$DATA/table.csv" table.csv
ln -sfn "$DATA/keys.txt" keys.txt
RAW="$WORK/measurements.jsonl"
API_RAW="$WORK/api.jsonl"
LOG="$WORK/stderr.log"
: > "$RAW"
: > "$API_RAW"
: > "$LOG"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
cat table.csv keys.txt > /dev/null   # page cache warm: nothing is dropped between runs

# measure NAME RUN OK_EXITS [--stdin F] --stdout F -- CMD...  (measure.py prints its JSON on stdout)
measure() {
  local name="$1" run="$2" ok="$3"; shift 3
  local line rc=0
  echo "--- $name run $run" >> "$LOG"
  line="$(python3 "$BENCH/measure.py" --label "$name" "$@" 2>>"$LOG")" || rc=$?
  if [ -z "$line" ] || [[ " $ok " != *" $rc "* ]]; then
    echo "run.sh: $name (run $run) failed with exit status $rc; its stderr:" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  printf '{"run": %d, %s\n' "$run" "${line#\{}" >> "$RAW"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-14s run %s: %7.2f s  %7.1f MiB PSS" % (r["label"], sys.argv[2], r["wall_s"], r["peak_pss_mib"]))' "$line" "$run" >&2
}

# api NAME RUN CMD...: a point-lookup loop; its JSON line (ns per key, checksum) goes to API_RAW.
api() {
  local name="$1" run="$2"; shift 2
  measure "$name" "$run" "0" --stdout api.out -- "$@"
  printf '{"run": %d, "label": "%s", %s\n' "$run" "$name" "$(tail -c +2 api.out)" >> "$API_RAW"
  python3 -c 'import json,sys; r=json.load(open("api.out")); print("  %-14s run %s: %7.2f ns/key, %d hits, %d value bytes" % (sys.argv[1], sys.argv[2], r["ns_per_key"], r["hits"], r["value_bytes"]))' "$name" "$run" >&2
}

same_data() {  # same_data DUMP_A DUMP_B: the key/value lines of two mdb_dump outputs are equal
  cmp -s <(sed '1,/^HEADER=END$/d' "$1") <(sed '1,/^HEADER=END$/d' "$2")
}

VERIFIED=()
for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS"
  if [ "$C_ONLY" -eq 0 ]; then
    rm -f t.lmdb t.lmdb-lock
    measure "lookup build" "$run" "0" --stdout build.out -- "$LOOKUP" build --memory "$MEMORY" table.csv -o t.lmdb
  fi
  rm -f t_c.lmdb
  measure "build_c_lmdb" "$run" "0" --stdout build_c.out -- "$WORK/bin/build_c_lmdb" table.csv t_c.lmdb
  if [ "$PY_BUILD" -eq 1 ]; then
    rm -f t_py.lmdb t_py.lmdb-lock
    measure "build_py_lmdb" "$run" "0" --stdout build_py.out -- python3 "$BENCH/peers/build_py_lmdb.py" table.csv t_py.lmdb
  fi
  if [ "$C_ONLY" -eq 0 ]; then
    # exit 1 means "some keys were missing": expected, about half are
    measure "lookup get" "$run" "0 1" --stdin keys.txt --stdout out -- "$LOOKUP" get t.lmdb
  fi
  measure "get_c_lmdb" "$run" "0 1" --stdin keys.txt --stdout out_c -- "$WORK/bin/get_c_lmdb" t_c.lmdb
  if [ "$C_ONLY" -eq 0 ]; then
    # Point lookups on the same file (t.lmdb; C reads its database `data`), same keys, same order.
    api "api one" "$run" "$WORK/bin/lookup-api-bench" t.lmdb keys.txt --mode one
    api "api batch" "$run" "$WORK/bin/lookup-api-bench" t.lmdb keys.txt --mode batch --batch 65536
  fi
  api "api mdb_get" "$run" "$WORK/bin/get_api_c_lmdb" t.lmdb keys.txt data

  # Checks (not timed): same output bytes; same records in both tables.
  found=$(wc -l < out_c)
  expected=$(python3 -c 'import sys; print(sum(1 for l in open(sys.argv[1]) if int(l[:16], 16) % 2 == 0))' keys.txt)
  [ "$found" -eq "$expected" ] || { echo "run.sh: get_c_lmdb printed $found values, expected $expected" >&2; exit 1; }
  # The API loops of this run: the same hits (the even keys) and the same summed value lengths.
  sums=$(python3 -c 'import json,sys; print(" ".join(sorted({"%d/%d" % (r["hits"], r["value_bytes"]) for r in map(json.loads, open(sys.argv[1])) if r["run"] == int(sys.argv[2])})))' "$API_RAW" "$run")
  value_bytes=$(( $(wc -c < out_c) - found ))   # out_c: one value per line for each hit
  [ "$sums" = "$expected/$value_bytes" ] ||
    { echo "run.sh: the API loops found [hits/value bytes] $sums, expected $expected/$value_bytes (get_c_lmdb's)" >&2; exit 1; }
  if [ "$C_ONLY" -eq 0 ]; then
    cmp -s out out_c || { echo "run.sh: lookup get and get_c_lmdb printed different output (see $WORK/out, $WORK/out_c)" >&2; exit 1; }
    if [ "$run" -eq 1 ] || [ "$run" -eq "$RUNS" ]; then
      mdb_dump -n -s data t.lmdb > dump.txt
      mdb_dump -n t_c.lmdb > dump_c.txt
      same_data dump.txt dump_c.txt || { echo "run.sh: t.lmdb (db data) and t_c.lmdb hold different records (see $WORK/dump.txt, dump_c.txt)" >&2; exit 1; }
      if [ "$PY_BUILD" -eq 1 ]; then
        mdb_dump -n t_py.lmdb > dump_py.txt
        same_data dump_py.txt dump_c.txt || { echo "run.sh: t_py.lmdb and t_c.lmdb hold different records (see $WORK/dump_py.txt, dump_c.txt)" >&2; exit 1; }
      fi
      rm -f dump.txt dump_c.txt dump_py.txt
    fi
  fi
done
if [ "$C_ONLY" -eq 0 ]; then
  VERIFIED+=("every run: lookup get output == get_c_lmdb output (cmp), $found values for $GET_KEYS keys")
  VERIFIED+=("runs 1 and $RUNS: mdb_dump -n -s data t.lmdb == mdb_dump -n t_c.lmdb$( [ "$PY_BUILD" -eq 0 ] || echo " == mdb_dump -n t_py.lmdb"), header lines ignored")
  VERIFIED+=("every run: lookup-api-bench --mode one, --mode batch and get_api_c_lmdb found the same $expected keys (the even ones) with the same summed value bytes")
else
  VERIFIED+=("every run: get_c_lmdb printed $found values, one per even (present) key")
fi

# ---- report ---------------------------------------------------------------------------------
TABLE_BYTES=$(stat -c %s "$DATA/table.csv")
LMDB_BYTES=$(stat -c %s t_c.lmdb)
LOOKUP_BYTES=0
[ "$C_ONLY" -eq 1 ] || LOOKUP_BYTES=$(stat -c %s t.lmdb)
GIT_HEAD=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | wc -l)
say "results"
[ -n "$OUT" ] || OUT="$RESULTS/build-get"
[ "$C_ONLY" -eq 0 ] || OUT="$WORK/build-get-c-only"   # a harness check is not a result
python3 "$BENCH/summarize.py" \
  --raw "$RAW" --api-raw "$API_RAW" --out "$OUT" --memory "$MEMORY" \
  --invocation "$INVOCATION" --keys "$KEYS" --get-keys "$GET_KEYS" --runs "$RUNS" --seed "$SEED" \
  --c-only "$C_ONLY" --table-bytes "$TABLE_BYTES" --lmdb-bytes "$LMDB_BYTES" --lookup-bytes "$LOOKUP_BYTES" \
  --load-before "$LOAD_BEFORE" --git "$GIT_HEAD" --git-dirty "$GIT_DIRTY" \
  --lmdb-version "$(lmdb_version)" --py-lmdb-version "$(python3 -c 'import lmdb; print(lmdb.__version__)')" \
  --swift-version "$( [ "$C_ONLY" -eq 1 ] || swift --version 2>/dev/null | head -n1)" \
  --cc-version "$(cc --version | head -n1)" \
  "${VERIFIED[@]/#/--verified=}" "${SKIPPED[@]/#/--skipped=}"
