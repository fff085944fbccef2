#!/usr/bin/env bash
# Tables larger than memory: the batch join under memory caps, as in containers whose limit
# (which counts the page cache) is smaller than the table. One command, as root.
#
#   Benchmarks/run-capped.sh [--keys N] [--files F] [--lines L] [--caps "1 2 4 0"] [--runs R]
#                            [--programs "lookup c py duckdb"] [--no-build] [--data DIR] [--out PREFIX] [--append]
#
#   --keys N       table rows (default 50000000: a 2.5 GiB table)
#   --files F      input files (default 2), --lines L lines each (default 1000000), about
#                  half of them hits (gen.py; the first files of `--files 16` are the same)
#   --caps LIST    memory caps in GiB, 0 for none (default "1 2 4 0")
#   --runs R       measured runs of each program at each cap, interleaved (default 1)
#   --programs LIST  among: lookup (`lookup run -j 2`), c (peers/join_c_lmdb.c, 2 workers,
#                  MDB_NORDAHEAD), py (peers/join_py_lmdb.py, pool of 2, readahead=False),
#                  duckdb (peers/join_duckdb.py, 2 threads, memory_limit 60% of the cap)
#   --no-build     skip the `lookup build` rows (build of the table under a 1 GiB cap and
#                  uncapped; the table is then built once, uncapped, if missing)
#   --data DIR     reuse or make the workload there (default Benchmarks/data/capped-...)
#   --out PREFIX   results PREFIX.jsonl (one JSON object per measurement), PREFIX.md and
#                  PREFIX.svg (default Benchmarks/results/capped)
#   --append       add to PREFIX.jsonl instead of starting it afresh (more runs: medians)
#
# Every measurement runs in a fresh memory cgroup (v2 when the machine has it, else v1;
# Benchmarks/cgroup-run.sh) after the page cache is dropped: cold, as a container starts.
# The same run also measures the disk with fio (4 KiB random reads, O_DIRECT, queue depth 1
# and 32) and, uncapped, the warm case (cache kept from the run before). All programs read
# the same table file (the C and Python peers its `data` database); each output is compared
# with lookup's.
set -euo pipefail
PROG=run-capped
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/Benchmarks"
source "$BENCH/lib.sh"

KEYS=50000000 FILES=2 LINES=1000000 CAPS="1 2 4 0" RUNS=1 PROGRAMS="lookup c py duckdb" BUILD=1 APPEND=0 DATA="" OUT="$BENCH/results/capped"
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --lines) LINES=$2; shift 2 ;;
    --caps) CAPS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --programs) PROGRAMS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --data) DATA=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --append) APPEND=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "$PROG: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "$PROG: run as root (memory cgroups, drop_caches)" >&2; exit 2; }

ensure_deps py-lmdb
command -v fio >/dev/null || apt_install fio
python3 -c "import duckdb" 2>/dev/null || { say "pip install duckdb"; python3 -m pip install --quiet duckdb; }

BIN="$BENCH/.bin-capped"
swift_build_copy "$BIN" lookup
cc -O2 -o "$BIN/join_c_lmdb" "$BENCH/peers/join_c_lmdb.c" -llmdb

DATA="${DATA:-$BENCH/data/capped-keys$KEYS-files$FILES-lines$LINES}"
if [ ! -f "$DATA/table.csv" ] || [ ! -d "$DATA/input" ]; then
  say "generating the workload in $DATA"
  python3 "$BENCH/gen.py" "$DATA" --keys "$KEYS" --files "$FILES" --lines "$LINES" >&2
fi
mkdir -p "$(dirname "$OUT")"
JSONL="$OUT.jsonl"
[ "$APPEND" -eq 1 ] || : > "$JSONL"
HOST="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"

# measure LABEL CAP_GIB CMD...: one cold run in a cgroup; appends a JSON line (none when
# RECORD=0; SUFFIX is added to the label).
RECORD=1 SUFFIX=""
measure() {
  local label="$1$SUFFIX" cap=$2; shift 2
  local bytes=$(( cap * 1024 * 1024 * 1024 )) status=0 line
  timeout 900 "$BENCH/cgroup-run.sh" "$bytes" "$@" >/dev/null 2>"$DATA/.err" || status=$?
  line=$(grep '^cgroup-run:' "$DATA/.err" | tail -1 || true)
  local wall peak refaults
  read -r _ _ wall _ peak _ refaults <<<"${line:-x x 0 x 0 x 0}"
  [ "$status" -eq 0 ] || { echo "$PROG: $label at ${cap} GiB exited $status:" >&2; tail -3 "$DATA/.err" >&2; }
  [ "$RECORD" -eq 1 ] || return 0
  printf '{"what":"%s","cap_gib":%s,"wall":%s,"peak":%s,"refaults":%s,"status":%s,"keys":%s,"lines":%s,"host":"%s","date":"%s"}\n' \
    "$label" "$cap" "$wall" "$peak" "$refaults" "$status" "$KEYS" "$((FILES * LINES))" "$HOST" "$(date -u +%FT%TZ)" >> "$JSONL"
  say "$label, cap $([ "$cap" = 0 ] && echo none || echo "$cap GiB"): ${wall} s (peak $((peak / 1048576)) MiB, refaults $refaults, exit $status)"
}

# The table: built under a 1 GiB cap (the row) and uncapped (the other row).
if [ "$BUILD" -eq 1 ] || [ ! -f "$DATA/table.lmdb" ]; then
  rm -f "$DATA/free.lmdb"
  [ "$BUILD" -eq 0 ] || measure "lookup build" 0 "$BIN/lookup" build "$DATA/table.csv" -o "$DATA/free.lmdb"
  rm -f "$DATA/free.lmdb"
  measure "lookup build" 1 "$BIN/lookup" build "$DATA/table.csv" -o "$DATA/table.lmdb"
fi
if [[ " $PROGRAMS " == *" duckdb "* ]] && [ ! -f "$DATA/table.duckdb" ]; then
  say "loading the table into DuckDB (once)"
  python3 "$BENCH/peers/join_duckdb.py" load "$DATA/table.csv" "$DATA/table.duckdb"
fi

say "fio: 4 KiB random reads of the table file, O_DIRECT"
for depth in 1 32; do
  iops=$(fio --name=randread --filename="$DATA/table.lmdb" --readonly --rw=randread --bs=4k --direct=1 \
             --ioengine=libaio --iodepth="$depth" --runtime=10 --time_based --output-format=json 2>/dev/null |
         python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))')
  printf '{"what":"fio","depth":%s,"iops":%s,"date":"%s"}\n' "$depth" "$iops" "$(date -u +%FT%TZ)" >> "$JSONL"
  say "fio depth $depth: $iops IOPS"
done

run_program() {  # run_program NAME CAP OUT_DIR
  local name=$1 cap=$2 out=$3
  rm -rf "$out"; mkdir -p "$out"
  local limit=$(( cap > 0 ? cap * 1024 * 6 / 10 : 0 ))
  case "$name" in
    lookup) measure "lookup run -j 2" "$cap" "$BIN/lookup" run "$DATA/table.lmdb" "$DATA/input" -o "$out" -j 2 --overwrite -q ;;
    c) measure "C liblmdb NORDAHEAD" "$cap" env JOIN_NORDAHEAD=1 "$BIN/join_c_lmdb" "$DATA/table.lmdb" "$DATA/input" "$out" 2 data ;;
    py) measure "py-lmdb readahead=False" "$cap" env JOIN_READAHEAD=0 python3 "$BENCH/peers/join_py_lmdb.py" "$DATA/table.lmdb" "$DATA/input" "$out" 2 data ;;
    duckdb) measure "DuckDB memory_limit" "$cap" python3 "$BENCH/peers/join_duckdb.py" join "$DATA/table.duckdb" "$DATA/input" "$out" 2 \
              $([ "$limit" -gt 0 ] && echo "${limit}MB") ;;
  esac
  if [ "$RECORD" -eq 1 ] && [ "$name" != lookup ] && [ -d "$DATA/out-lookup" ]; then
    if diff -r -q -x '.lookup-joblog.jsonl' "$DATA/out-lookup" "$out" >/dev/null; then same=true; else same=false; fi
    printf '{"what":"same output","program":"%s","cap_gib":%s,"same":%s}\n' "$name" "$cap" "$same" >> "$JSONL"
    [ "$same" = true ] || echo "$PROG: $name's output differs from lookup's at ${cap} GiB" >&2
  fi
}

for cap in $CAPS; do
  for run in $(seq "$RUNS"); do
    for p in $PROGRAMS; do run_program "$p" "$cap" "$DATA/out-$p"; done
  done
done

# Warm, uncapped: the cache is kept from a run just before.
for p in lookup c; do
  [[ " $PROGRAMS " == *" $p "* ]] || continue
  export CGROUP_RUN_KEEP_CACHE=1
  RECORD=0 run_program "$p" 0 "$DATA/out-$p"
  SUFFIX=" (warm)" run_program "$p" 0 "$DATA/out-$p"
  unset CGROUP_RUN_KEEP_CACHE
done

python3 "$BENCH/summarize_capped.py" "$JSONL" "$OUT.md" "$OUT.svg"
say "results: ${OUT#"$ROOT"/}.md, .svg, .jsonl"
