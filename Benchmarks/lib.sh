# Shell helpers shared by the benchmark scripts (sourced, not run): messages, installing
# what is missing, building the Swift products in release mode. The caller sets PROG (its
# name, for messages) and ROOT (the repository root) before sourcing.
#
# Swift builds go to $BENCH_SCRATCH (default: .build-bench in the repository root), so a
# benchmark neither waits on nor swaps the binaries of a build in the default .build.

BENCH_SCRATCH="${BENCH_SCRATCH:-$ROOT/.build-bench}"

say() { printf '\n== %s\n' "$*" >&2; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  command -v apt-get >/dev/null || { echo "$PROG: please install: $*" >&2; exit 2; }
  say "installing $*"
  # A fresh image has no package lists: when the install cannot find a package, update and retry.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
    { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
}

# ensure_deps [mawk] [py-lmdb]: liblmdb-dev, lmdb-utils, python3 and a C compiler, plus mawk
# and the lmdb Python package when asked for.
ensure_deps() {
  local want_mawk=0 want_py_lmdb=0 arg p
  for arg in "$@"; do
    case "$arg" in mawk) want_mawk=1 ;; py-lmdb) want_py_lmdb=1 ;; esac
  done
  local missing=()
  if command -v dpkg-query >/dev/null; then
    for p in liblmdb-dev lmdb-utils; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
  else
    [ -f /usr/include/lmdb.h ] || missing+=(liblmdb-dev)
    command -v mdb_dump >/dev/null || missing+=(lmdb-utils)
  fi
  [ "$want_mawk" -eq 0 ] || command -v mawk >/dev/null || missing+=(mawk)
  command -v python3 >/dev/null || missing+=(python3 python3-pip)
  command -v cc >/dev/null || missing+=(gcc libc6-dev)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  if [ "$want_py_lmdb" -eq 1 ] && ! python3 -c 'import lmdb' 2>/dev/null; then
    say "pip install lmdb"
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    python3 -m pip install lmdb || python3 -m pip install --break-system-packages lmdb
    python3 -c 'import lmdb' || { echo "$PROG: the lmdb Python package did not install" >&2; exit 2; }
  fi
}

# swift_build_copy DIR PRODUCT...: builds each product in release mode and copies its binary
# into DIR. The benchmark measures the copies: a rebuild during the runs cannot swap them.
swift_build_copy() {
  local dir="$1" product bin
  shift
  mkdir -p "$dir"
  for product in "$@"; do
    say "swift build -c release --scratch-path ${BENCH_SCRATCH#"$ROOT"/} --product $product"
    (cd "$ROOT" && swift build -c release --scratch-path "$BENCH_SCRATCH" --product "$product") >&2
  done
  bin="$(cd "$ROOT" && swift build -c release --scratch-path "$BENCH_SCRATCH" --show-bin-path)"
  for product in "$@"; do
    [ -x "$bin/$product" ] || { echo "$PROG: no $product binary at $bin/$product" >&2; exit 2; }
    cp "$bin/$product" "$dir/$product.tmp" && mv -f "$dir/$product.tmp" "$dir/$product"
  done
}

# lmdb_version: the installed liblmdb-dev version, for the reports.
lmdb_version() { dpkg-query -W -f='${Version}' liblmdb-dev 2>/dev/null || echo unknown; }
