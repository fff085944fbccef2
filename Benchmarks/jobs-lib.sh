# jobs-lib.sh: what the job benchmarks (run-joins.sh, run-ranges.sh) share: one measured run
# into measurements.jsonl, and the checks of every output against a reference. Sourced after
# lib.sh; the script sets SCRIPT (its name in messages), BENCH, WORK, LOG, RAW, WORKERS, NAMES
# (the input file names) and SORTED (1: the same lines in another order are accepted), and
# defines fail.

# measure JOB PHASE LABEL RUN --stdout F -- CMD...: one measure.py line, tagged, into $RAW.
measure() {
  local job="$1" phase="$2" name="$3" run="$4"; shift 4
  local line rc=0 load
  sync   # no writeback of the previous command's output left to slow this one
  load="$(cut -d' ' -f1 /proc/loadavg)"
  echo "--- $job $name run $run" >> "$LOG"
  line="$(python3 "$BENCH/measure.py" --label "$name" "$@" 2>>"$LOG")" || rc=$?
  if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
    echo "$SCRIPT: $job: $name (run $run) failed with exit status $rc; its stderr (all in $LOG):" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  printf '{"record": "measurement", "job": "%s", "phase": "%s", "run": %d, "workers": %d, "load1_before": %s, %s\n' \
    "$job" "$phase" "$run" "$WORKERS" "$load" "${line#\{}" >> "$RAW"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-6s %-15s run %s: %7.2f s  %7.1f MiB PSS" % (sys.argv[2], r["label"], sys.argv[3], r["wall_s"], r["peak_pss_mib"]))' \
    "$line" "$job" "$run" >&2
}

# same_output WHAT DIR REF: DIR holds exactly the input names (hidden files aside), each
# identical to REF's (or, with SORTED=1, the same lines in any order). One line on failure.
same_output() {
  local what="$1" dir="$2" ref="$3" name got
  got="$(cd "$dir" && ls | tr '\n' ' ')"
  [ "$got" = "$(printf '%s ' "${NAMES[@]}")" ] || fail "$what: $dir holds files [$got], expected one per input file"
  for name in "${NAMES[@]}"; do
    cmp -s "$ref/$name" "$dir/$name" && continue
    if cmp -s <(LC_ALL=C sort "$ref/$name") <(LC_ALL=C sort "$dir/$name"); then
      [ "${SORTED:-0}" -eq 1 ] && continue
      fail "$what: OUTPUT DIFFERS: $dir/$name has the lines of $ref/$name in another order (kept in $WORK/out)"
    fi
    fail "$what: OUTPUT DIFFERS: $dir/$name and $ref/$name hold different lines, first at line $(cmp "$ref/$name" "$dir/$name" 2>&1 | sed -n 's/.* line \([0-9]*\).*/\1/p') (kept in $WORK/out)"
  done
}

line_count() {  # line_count DIR: lines of all the files in DIR
  (cd "$1" && cat -- * | wc -l)
}

check_count() {  # check_count WHAT GOT WANT
  [ "$2" = "$3" ] || fail "$1: OUTPUT DIFFERS: $2 output lines, expected $3"
}
