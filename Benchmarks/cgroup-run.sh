#!/usr/bin/env bash
# cgroup-run.sh LIMIT CMD...: runs CMD in a fresh memory cgroup limited to LIMIT bytes ("0":
# no limit) after dropping the page cache, as a container with that memory limit would (its
# limit counts the page cache). Needs root. Uses cgroup v2 when the machine's hierarchy has
# the memory controller enabled, else v1. Prints to stderr one line:
#   cgroup-run: wall SECONDS peak BYTES refaults N
# and exits with CMD's status. CGROUP_RUN_KEEP_CACHE=1 keeps the page cache (a warm run).
set -euo pipefail
limit=$1; shift
[ "$(id -u)" -eq 0 ] || { echo "cgroup-run: needs root (memory cgroups, drop_caches)" >&2; exit 2; }
name="lookup-cap-$$"
v2root=""
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if [ -f "$m/cgroup.controllers" ] && grep -qw memory "$m/cgroup.controllers"; then v2root=$m; break; fi
done
if [ -n "$v2root" ]; then
  grep -qw memory "$v2root/cgroup.subtree_control" || echo +memory > "$v2root/cgroup.subtree_control"
  cg="$v2root/$name"; mkdir "$cg"
  [ "$limit" = 0 ] || echo "$limit" > "$cg/memory.max"
  procs="$cg/cgroup.procs"; peakfile="$cg/memory.peak"; refault_key=workingset_refault_file
else
  cg="/sys/fs/cgroup/memory/$name"; mkdir "$cg"
  [ "$limit" = 0 ] || echo "$limit" > "$cg/memory.limit_in_bytes"
  procs="$cg/cgroup.procs"; peakfile="$cg/memory.max_usage_in_bytes"; refault_key=workingset_refault_file
fi
cleanup() { rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT
[ -n "${CGROUP_RUN_KEEP_CACHE:-}" ] || { sync; echo 3 > /proc/sys/vm/drop_caches; }
start=$(date +%s%N)
set +e
sh -c 'echo $$ > "$1"; shift; exec "$@"' cgroup-run "$procs" "$@"
status=$?
set -e
end=$(date +%s%N)
peak=$(cat "$peakfile" 2>/dev/null || echo 0)
refaults=$(awk -v k="$refault_key" '$1==k || $1=="total_"k {print $2; exit}' "$cg/memory.stat" 2>/dev/null || echo 0)
printf "cgroup-run: wall %d.%02d peak %s refaults %s\n" $(( (end - start) / 1000000000 )) $(( (end - start) / 10000000 % 100 )) "$peak" "${refaults:-0}" >&2
# Pages cached in the group are moved to the parent when it is removed (v1) or stay charged
# to it (v2); drop them so the next run starts cold.
[ -n "${CGROUP_RUN_KEEP_CACHE:-}" ] || { sync; echo 3 > /proc/sys/vm/drop_caches; }
exit $status
