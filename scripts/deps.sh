#!/usr/bin/env bash
# Installs what building and testing need when it is missing: liblmdb-dev (the library),
# lmdb-utils (mdb_dump/mdb_load/mdb_stat for interop tests), zlib1g-dev, libzstd-dev,
# liblzma-dev, libbz2-dev, the gzip/zstd/xz/bzip2 tools (test fixtures), pkg-config, and
# Python's lmdb package (py-lmdb, for interop tests). Sourced by scripts/demo and scripts/test.
set -euo pipefail

need_apt=()
pkg-config --version >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists lmdb 2>/dev/null || need_apt+=(liblmdb-dev)
pkg-config --exists zlib 2>/dev/null || need_apt+=(zlib1g-dev)
pkg-config --exists libzstd 2>/dev/null || need_apt+=(libzstd-dev)
pkg-config --exists liblzma 2>/dev/null || need_apt+=(liblzma-dev)
# Debian's libbz2-dev has no pkg-config file: look for its header.
pkg-config --exists bzip2 2>/dev/null || [ -f /usr/include/bzlib.h ] || need_apt+=(libbz2-dev)
command -v mdb_dump >/dev/null 2>&1 || need_apt+=(lmdb-utils)
command -v gzip >/dev/null 2>&1 || need_apt+=(gzip)
# The compression tools that make the tests' fixtures.
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)
command -v bzip2 >/dev/null 2>&1 || need_apt+=(bzip2)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing: ${need_apt[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has empty package lists: update first when a package is unknown.
    if ! $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null 2>&1; then
        $SUDO apt-get update -q >/dev/null
        $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null
    fi
fi

if [ "${LOOKUP_NEED_PYLMDB:-0}" = 1 ] && ! python3 -c 'import lmdb' >/dev/null 2>&1; then
    echo "installing: python lmdb (py-lmdb)" >&2
    python3 -m pip install -q lmdb 2>/dev/null || python3 -m pip install -q --break-system-packages lmdb
fi
