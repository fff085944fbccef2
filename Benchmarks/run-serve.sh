#!/usr/bin/env bash
# Serve benchmark: `lookup serve` against a minimal Python service over py-lmdb, with wrk.
#
#   Benchmarks/run-serve.sh [--keys N] [--duration S] [--runs R] [--connections C] [--threads T]
#                           [--warmup S] [--scratch-path DIR]
#
#   --keys N          table rows (default 1000000)
#   --duration S      seconds of each measured wrk run (default 10)
#   --runs R          measured runs of each server, interleaved (default 3)
#   --connections C   wrk connections (default 16); --threads T wrk threads (default 2)
#   --warmup S        seconds of wrk against each server before measuring (default 3)
#   --scratch-path D  SwiftPM build directory for the release build (default: SwiftPM's .build)
#
# Steps: install what is missing (scripts/deps.sh: liblmdb-dev, python3, py-lmdb; and wrk), build
# `lookup` in release mode and copy it, generate (or reuse) the workload in Benchmarks/data/
# with gen.py (table.csv and 100000 keys, all in the table), build the table once, start
# `lookup serve t.lmdb --port 0` and `peers/serve_py_lmdb.py t.lmdb --port 0`, check that both
# answer the same values (and 404 for a missing key), warm each up, then in each run:
#   wrk -t T -c C -d S --latency -s wrk-get.lua http://127.0.0.1:PORT   (each server in turn)
# Stops lookup serve with SIGTERM (it must exit 0). Fails if lookup serve had any error.
# Writes Benchmarks/results/serve.{md,json}.
set -euo pipefail

KEYS=1000000
DURATION=10
RUNS=3
CONNECTIONS=16
THREADS=2
WARMUP=3
SCRATCH=""
SEED=1
GET_KEYS=100000
INVOCATION="Benchmarks/run-serve.sh${*:+ $*}"

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
    --duration) DURATION="${2:?--duration needs a number}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --connections) CONNECTIONS="${2:?--connections needs a number}"; shift 2 ;;
    --threads) THREADS="${2:?--threads needs a number}"; shift 2 ;;
    --warmup) WARMUP="${2:?--warmup needs a number}"; shift 2 ;;
    --scratch-path) SCRATCH="${2:?--scratch-path needs a directory}"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run-serve.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done
for v in "$KEYS" "$DURATION" "$RUNS" "$CONNECTIONS" "$THREADS" "$WARMUP"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run-serve.sh: not a positive number: $v" >&2; exit 2; }
done

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/serve"
RESULTS="$BENCH/results"
say() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "run-serve.sh: $*" >&2; exit 1; }

# ---- dependencies -------------------------------------------------------------------
# What the build and py-lmdb need comes from the project's own installer; wrk from Debian.
LOOKUP_NEED_PYLMDB=1 source "$ROOT/scripts/deps.sh"
python3 -c 'import lmdb' 2>/dev/null || fail "the lmdb Python package did not install"
if ! command -v wrk >/dev/null; then
  say "installing wrk"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 ||
    { $SUDO apt-get update -q >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2; }
  command -v wrk >/dev/null || fail "wrk did not install"
fi

# ---- lookup (release) -------------------------------------------------------------------
mkdir -p "$WORK/bin" "$RESULTS"
SWIFT_ARGS=(-c release)
[ -z "$SCRATCH" ] || SWIFT_ARGS+=(--scratch-path "$SCRATCH")
say "swift build ${SWIFT_ARGS[*]} --product lookup"
(cd "$ROOT" && swift build "${SWIFT_ARGS[@]}" --product lookup) >&2
BUILT="$(cd "$ROOT" && swift build "${SWIFT_ARGS[@]}" --show-bin-path)/lookup"
[ -x "$BUILT" ] || { echo "run-serve.sh: no lookup binary at $BUILT" >&2; exit 2; }
# Measure a private copy: a rebuild during the runs must not swap the binary.
cp "$BUILT" "$WORK/bin/lookup.tmp" && mv -f "$WORK/bin/lookup.tmp" "$WORK/bin/lookup"

# ---- workload and table -------------------------------------------------------------------
DATA="$BENCH/data/serve-keys$KEYS-get$GET_KEYS-seed$SEED"
WANT="{\"files\": 0, \"generator\": \"Benchmarks/gen.py v1\", \"get_keys\": $GET_KEYS, \"hit\": 1.0, \"keys\": $KEYS, \"lines\": 0, \"seed\": $SEED}"
if [ -f "$DATA/params.json" ] && [ "$(cat "$DATA/params.json")" = "$WANT" ] && [ -f "$DATA/keys.txt" ]; then
  say "reusing the workload in ${DATA#"$ROOT"/}"
else
  say "generating the workload in ${DATA#"$ROOT"/}"
  rm -rf "$DATA"
  python3 "$BENCH/gen.py" "$DATA" --keys "$KEYS" --files 0 --lines 0 --get-keys "$GET_KEYS" --hit 1.0 --seed "$SEED"
  [ "$(cat "$DATA/params.json")" = "$WANT" ] || fail "gen.py wrote unexpected params.json"
fi
cd "$WORK"
ln -sfn "$DATA/table.csv" table.csv
ln -sfn "$DATA/keys.txt" keys.txt
say "lookup build table.csv -o t.lmdb"
rm -f t.lmdb t.lmdb-lock
bin/lookup build table.csv -o t.lmdb >&2
cat t.lmdb keys.txt > /dev/null   # page cache warm

# ---- the servers ---------------------------------------------------------------------------
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# start_server LOGFILE CMD...: starts CMD, waits for "listening on http://127.0.0.1:PORT" in
# LOGFILE, and sets SERVER_PID and SERVER_PORT.
start_server() {
  local log="$1"; shift
  : > "$log"
  "$@" 2> "$log" > /dev/null &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 300); do
    SERVER_PORT="$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log" | head -n 1)"
    [ -n "$SERVER_PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; fail "$* exited before listening"; }
    sleep 0.1
  done
  cat "$log" >&2
  fail "$* did not start listening in 30 s"
}
say "starting lookup serve and the Python peer"
start_server lookup-serve.log bin/lookup serve t.lmdb --port 0
LOOKUP_PID=$SERVER_PID LOOKUP_PORT=$SERVER_PORT
start_server python-serve.log python3 "$BENCH/peers/serve_py_lmdb.py" t.lmdb --port 0
PY_PID=$SERVER_PID PY_PORT=$SERVER_PORT

say "checking that both answer the same"
python3 - "$LOOKUP_PORT" "$PY_PORT" <<'EOF'
import http.client, sys
ports = [int(p) for p in sys.argv[1:3]]
keys = [line.strip() for _, line in zip(range(300), open("keys.txt"))] + ["not-a-key"]
conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=10) for p in ports]
for key in keys:
    answers = []
    for c in conns:
        c.request("GET", "/v1/keys/" + key)
        r = c.getresponse()
        answers.append((r.status, r.read()))
    want = 404 if key == "not-a-key" else 200
    same = answers[0] == answers[1] if want == 200 else answers[0][0] == answers[1][0]
    if not same or answers[0][0] != want:
        sys.exit("run-serve.sh: servers disagree on %s: %r" % (key, answers))
print("  %d keys answered the same" % len(keys), file=sys.stderr)
EOF

cpu_seconds() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
RAW="$WORK/measurements.jsonl"
: > "$RAW"
export WRK_KEYS="$WORK/keys.txt"
# run_wrk NAME PID PORT RUN: one measured wrk run, appended to $RAW.
run_wrk() {
  local name="$1" pid="$2" port="$3" run="$4" load before after out line
  load="$(cut -d' ' -f1 /proc/loadavg)"
  before="$(cpu_seconds "$pid")"
  out="$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$BENCH/wrk-get.lua" "http://127.0.0.1:$port")"
  after="$(cpu_seconds "$pid")"
  echo "--- $name run $run" >> wrk.log
  echo "$out" >> wrk.log
  line="$(sed -n 's/^WRKJSON //p' <<<"$out")"
  [ -n "$line" ] || { echo "$out" >&2; fail "no result from wrk against $name"; }
  printf '{"server": "%s", "run": %d, "load1_before": %s, "server_cpu_s": %s, "wrk": %s}\n' \
    "$name" "$run" "$load" "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a - b }')" "$line" >> "$RAW"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-14s run %s: %8.0f req/s  p99 %6.2f ms  errors %d" % (sys.argv[2], sys.argv[3], r["requests"] / (r["duration_us"] / 1e6), r["latency_us"]["p99"] / 1000, sum(r["errors"].values())))' "$line" "$name" "$run" >&2
}

: > wrk.log
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "warming up (${WARMUP} s each)"
wrk -t "$THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" -s "$BENCH/wrk-get.lua" "http://127.0.0.1:$LOOKUP_PORT" > /dev/null
wrk -t "$THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" -s "$BENCH/wrk-get.lua" "http://127.0.0.1:$PY_PORT" > /dev/null
say "measuring: $RUNS runs of ${DURATION} s, wrk -t $THREADS -c $CONNECTIONS"
for run in $(seq 1 "$RUNS"); do
  run_wrk "lookup serve" "$LOOKUP_PID" "$LOOKUP_PORT" "$run"
  run_wrk "python" "$PY_PID" "$PY_PORT" "$run"
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

say "stopping the servers"
kill -TERM "$LOOKUP_PID"
status=0
wait "$LOOKUP_PID" || status=$?
[ "$status" -eq 0 ] || fail "lookup serve exited with status $status after SIGTERM"
kill -TERM "$PY_PID" 2>/dev/null || true
wait "$PY_PID" 2>/dev/null || true
PIDS=()

LOOKUP_ERRORS="$(python3 -c 'import json,sys; print(sum(sum(r["wrk"]["errors"].values()) for r in map(json.loads, open(sys.argv[1])) if r["server"] == "lookup serve"))' "$RAW")"

# ---- report ---------------------------------------------------------------------------------
python3 - "$WORK/context.json" <<EOF
import json, os, platform, subprocess, sys, datetime
def run(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
context = {
    "params": {"keys": $KEYS, "get_keys": $GET_KEYS, "duration": $DURATION, "runs": $RUNS,
               "connections": $CONNECTIONS, "threads": $THREADS, "warmup": $WARMUP, "seed": $SEED},
    "servers": {
        "lookup serve": "\`lookup serve t.lmdb --port 0\` (release build; Hummingbird 2 on SwiftNIO, one event loop per core)",
        "python": "\`python3 peers/serve_py_lmdb.py t.lmdb --port 0\` (http.server ThreadingHTTPServer, HTTP/1.1 keep-alive, py-lmdb, one read transaction per request)",
    },
    "machine": {"cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "kernel": platform.release()},
    "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER",
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "versions": {"lookup": run("git -C '$ROOT' rev-parse --short HEAD"), "swift": run("swift --version 2>&1 | head -n 1"),
                 "wrk": run("wrk -v 2>&1 | head -n 1"), "python": platform.python_version(),
                 "py-lmdb": run("python3 -c 'import lmdb; print(lmdb.__version__)'")},
    "command": "$INVOCATION",
}
json.dump(context, open(sys.argv[1], "w"), indent=1)
EOF
say "results"
python3 "$BENCH/summarize_serve.py" "$RAW" "$WORK/context.json" "$RESULTS"
echo "wrote ${RESULTS#"$ROOT"/}/serve.md and serve.json" >&2
[ "$LOOKUP_ERRORS" -eq 0 ] || fail "lookup serve had $LOOKUP_ERRORS errors (see $WORK/wrk.log)"
