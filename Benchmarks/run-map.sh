#!/usr/bin/env bash
# Streaming benchmark: `lookup map` (stdin -> stdout, one process) against `lookup run -j 1`
# on the same lines, interleaved, outputs checked identical; then the Spark job
# (Examples/spark via scripts/spark-test) wall time with 1 and 2 executors.
#
#   Benchmarks/run-map.sh [--keys N] [--files F] [--lines L] [--runs R] [--no-spark]
#
# Writes Benchmarks/results/map.md. Needs what run.sh needs; the Spark part needs Java 17 and
# PyPI (scripts/spark-test installs pyspark into a virtual environment).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
KEYS=5000000; FILES=4; LINES=1000000; RUNS=3; SPARK=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --lines) LINES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --no-spark) SPARK=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
source scripts/deps.sh
swift build -c release --product lookup >/dev/null
WORK="$REPO/Benchmarks/work/map"
mkdir -p "$WORK"
cp "$(swift build -c release --show-bin-path)/lookup" "$WORK/lookup"
L="$WORK/lookup"
DATA="$REPO/Benchmarks/data/map-k$KEYS-f$FILES-l$LINES"
[ -f "$DATA/params.json" ] || python3 Benchmarks/gen.py "$DATA" --keys "$KEYS" --files "$FILES" --lines "$LINES" --get-keys 0 >/dev/null
[ -f "$WORK/t.lmdb" ] && [ "$WORK/t.lmdb" -nt "$DATA/table.csv" ] || "$L" build "$DATA/table.csv" -o "$WORK/t.lmdb" -q
cat "$DATA"/input/part-*.csv > "$WORK/all.csv"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

measure() { python3 Benchmarks/measure.py "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
declare -a RUN_WALL MAP_WALL RUN_CPU MAP_CPU
for r in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/out"
  j=$(measure --label run -- "$L" run "$WORK/t.lmdb" "$DATA/input" -o "$WORK/out" -j 1 -q --no-progress)
  RUN_WALL+=("$(field "$j" wall_s)"); RUN_CPU+=("$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['user_s']+d['sys_s'])" "$j")")
  j=$(measure --label map --stdin "$WORK/all.csv" --stdout "$WORK/map.out" -- "$L" map "$WORK/t.lmdb")
  MAP_WALL+=("$(field "$j" wall_s)"); MAP_CPU+=("$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['user_s']+d['sys_s'])" "$j")")
  cat "$WORK"/out/part-*.csv | cmp -s - "$WORK/map.out" || { echo "map output differs from run output" >&2; exit 1; }
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
RW=$(median "${RUN_WALL[@]}"); MW=$(median "${MAP_WALL[@]}"); RC=$(median "${RUN_CPU[@]}"); MC=$(median "${MAP_CPU[@]}")
TOTAL=$((FILES * LINES))

SPARK_ROWS=""
if [ "$SPARK" = 1 ]; then
  for n in 1 2; do
    log="$WORK/spark-$n.log"
    if SPARK_TEST_MASTER="local-cluster[$n,1,1024]" LOOKUP_BIN="$L" ./scripts/spark-test > "$log" 2>&1; then
      shipped=$(sed -n 's/.*shipped: .*(\([0-9]*\) s).*/\1/p' "$log"); local_s=$(sed -n 's/.*local: .*(\([0-9]*\) s).*/\1/p' "$log")
      SPARK_ROWS+="| Spark job, local-cluster[$n,1,1024], table shipped with addFile | $shipped s |"$'\n'
      SPARK_ROWS+="| Spark job, local-cluster[$n,1,1024], table at a local path | $local_s s |"$'\n'
    else
      SPARK_ROWS+="| Spark job, local-cluster[$n,1,1024] | failed or skipped: $(tail -n 1 "$log") |"$'\n'
    fi
  done
fi
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p Benchmarks/results
{
  echo "# Streaming: \`lookup map\` vs \`lookup run -j 1\`, and the Spark job"
  echo
  echo "Command: \`Benchmarks/run-map.sh --keys $KEYS --files $FILES --lines $LINES --runs $RUNS\` ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Machine: $(nproc) CPUs. Load average before: $LOAD_BEFORE; after: $LOAD_AFTER."
  echo
  echo "$TOTAL lines (\`key,int,filler\`, half hits) against a $KEYS-key table; join mode; page cache warm;"
  echo "medians of $RUNS interleaved runs; outputs checked byte-identical every run."
  echo
  echo "| command | median wall s | CPU s | M lines/s | throughput vs run -j 1 |"
  echo "|---|---|---|---|---|"
  echo "| \`lookup run t.lmdb input -o out -j 1\` | $(printf %.2f "$RW") | $(printf %.2f "$RC") | $(python3 -c "print(round($TOTAL/$RW/1e6,2))") | 1.00 |"
  echo "| \`lookup map t.lmdb < all.csv > out\` | $(printf %.2f "$MW") | $(printf %.2f "$MC") | $(python3 -c "print(round($TOTAL/$MW/1e6,2))") | $(python3 -c "print(round($RW/$MW,2))") |"
  echo
  if [ -n "$SPARK_ROWS" ]; then
    echo "Spark (\`scripts/spark-test\`: 5,000 keys, 4 input files of 20,000 lines; times include"
    echo "Spark's start-up, which dominates at this size):"
    echo
    echo "| job | wall |"
    echo "|---|---|"
    printf '%s' "$SPARK_ROWS"
  fi
} > Benchmarks/results/map.md
cat Benchmarks/results/map.md
