#!/usr/bin/env bash
# Build/get benchmark: `lookup build` and `lookup get` against straightforward C on liblmdb.
#
#   Benchmarks/run.sh [--keys N] [--runs R] [--get-keys M] [--c-only]
#
#   --keys N      table rows (default 5000000)
#   --runs R      measured runs of each command, interleaved (default 3)
#   --get-keys M  keys fed to `get` on stdin, about half present (default 1000000)
#   --c-only      skip the Swift build and measure only the C peers (to check the harness)
#
# Steps: install missing deps (liblmdb-dev, lmdb-utils, python3, a C compiler), build
# `lookup` in release mode, compile the C peers, generate (or reuse) the workload in
# Benchmarks/data/, warm the page cache, then for each run measure in this order:
#   lookup build table.csv -o t.lmdb      build_c_lmdb table.csv t_c.lmdb
#   lookup get t.lmdb < keys.txt > out    get_c_lmdb t_c.lmdb < keys.txt > out_c
# and check that both gets printed the same bytes and both tables hold the same records.
# Prints a Markdown table; writes Benchmarks/results/build-get.{md,json}.
set -euo pipefail

KEYS=5000000
RUNS=3
GET_KEYS=1000000
SEED=1
C_ONLY=0
INVOCATION="Benchmarks/run.sh${*:+ $*}"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --get-keys) GET_KEYS="${2:?--get-keys needs a number}"; shift 2 ;;
    --c-only) C_ONLY=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$KEYS" "$RUNS" "$GET_KEYS"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run.sh: not a positive number: $v" >&2; exit 2; }
done

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work"
RESULTS="$BENCH/results"
say() { printf '\n== %s\n' "$*" >&2; }

# ---- dependencies -------------------------------------------------------------------
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  command -v apt-get >/dev/null || { echo "run.sh: please install: $*" >&2; exit 2; }
  say "installing $*"
  # A fresh image has no package lists: when the install cannot find a package, update and retry.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
    { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
}
missing=()
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
if command -v dpkg-query >/dev/null; then
  for p in liblmdb-dev lmdb-utils; do pkg_ok "$p" || missing+=("$p"); done
else
  [ -f /usr/include/lmdb.h ] || missing+=(liblmdb-dev)
  command -v mdb_dump >/dev/null || missing+=(lmdb-utils)
fi
command -v python3 >/dev/null || missing+=(python3)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# ---- lookup (release) and the C peers ------------------------------------------------
mkdir -p "$WORK/bin" "$RESULTS"
if [ "$C_ONLY" -eq 0 ]; then
  say "swift build -c release --product lookup"
  (cd "$ROOT" && swift build -c release --product lookup) >&2
  BUILT="$(cd "$ROOT" && swift build -c release --show-bin-path)/lookup"
  [ -x "$BUILT" ] || { echo "run.sh: no lookup binary at $BUILT" >&2; exit 2; }
  # Measure a private copy: a rebuild of .build during the runs must not swap the binary.
  LOOKUP="$WORK/bin/lookup"
  cp "$BUILT" "$LOOKUP.tmp" && mv -f "$LOOKUP.tmp" "$LOOKUP"
fi
say "compiling the C peers"
for peer in build_c_lmdb get_c_lmdb; do
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
LOG="$WORK/stderr.log"
: > "$RAW"
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

same_data() {  # same_data DUMP_A DUMP_B: the key/value lines of two mdb_dump outputs are equal
  cmp -s <(sed '1,/^HEADER=END$/d' "$1") <(sed '1,/^HEADER=END$/d' "$2")
}

VERIFIED=()
for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS"
  if [ "$C_ONLY" -eq 0 ]; then
    rm -f t.lmdb t.lmdb-lock
    measure "lookup build" "$run" "0" --stdout build.out -- "$LOOKUP" build table.csv -o t.lmdb
  fi
  rm -f t_c.lmdb
  measure "build_c_lmdb" "$run" "0" --stdout build_c.out -- "$WORK/bin/build_c_lmdb" table.csv t_c.lmdb
  if [ "$C_ONLY" -eq 0 ]; then
    # exit 1 means "some keys were missing": expected, about half are
    measure "lookup get" "$run" "0 1" --stdin keys.txt --stdout out -- "$LOOKUP" get t.lmdb
  fi
  measure "get_c_lmdb" "$run" "0 1" --stdin keys.txt --stdout out_c -- "$WORK/bin/get_c_lmdb" t_c.lmdb

  # Checks (not timed): same output bytes; same records in both tables.
  found=$(wc -l < out_c)
  expected=$(python3 -c 'import sys; print(sum(1 for l in open(sys.argv[1]) if int(l[:16], 16) % 2 == 0))' keys.txt)
  [ "$found" -eq "$expected" ] || { echo "run.sh: get_c_lmdb printed $found values, expected $expected" >&2; exit 1; }
  if [ "$C_ONLY" -eq 0 ]; then
    cmp -s out out_c || { echo "run.sh: lookup get and get_c_lmdb printed different output (see $WORK/out, $WORK/out_c)" >&2; exit 1; }
    if [ "$run" -eq 1 ] || [ "$run" -eq "$RUNS" ]; then
      mdb_dump -n -s data t.lmdb > dump.txt
      mdb_dump -n t_c.lmdb > dump_c.txt
      same_data dump.txt dump_c.txt || { echo "run.sh: t.lmdb (db data) and t_c.lmdb hold different records (see $WORK/dump.txt, dump_c.txt)" >&2; exit 1; }
      rm -f dump.txt dump_c.txt
    fi
  fi
done
if [ "$C_ONLY" -eq 0 ]; then
  VERIFIED+=("every run: lookup get output == get_c_lmdb output (cmp), $found values for $GET_KEYS keys")
  VERIFIED+=("runs 1 and $RUNS: mdb_dump -n -s data t.lmdb == mdb_dump -n t_c.lmdb, header lines ignored")
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
OUT="$RESULTS/build-get"
[ "$C_ONLY" -eq 0 ] || OUT="$WORK/build-get-c-only"   # a harness check is not a result
python3 "$BENCH/summarize.py" \
  --raw "$RAW" --out "$OUT" \
  --invocation "$INVOCATION" --keys "$KEYS" --get-keys "$GET_KEYS" --runs "$RUNS" --seed "$SEED" \
  --c-only "$C_ONLY" --table-bytes "$TABLE_BYTES" --lmdb-bytes "$LMDB_BYTES" --lookup-bytes "$LOOKUP_BYTES" \
  --load-before "$LOAD_BEFORE" --git "$GIT_HEAD" --git-dirty "$GIT_DIRTY" \
  --lmdb-version "$(dpkg-query -W -f='${Version}' liblmdb-dev 2>/dev/null || echo unknown)" \
  --swift-version "$( [ "$C_ONLY" -eq 1 ] || swift --version 2>/dev/null | head -n1)" \
  --cc-version "$(cc --version | head -n1)" \
  "${VERIFIED[@]/#/--verified=}"
