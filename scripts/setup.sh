#!/usr/bin/env bash
# Installs what building and testing sairing needs on a fresh Debian machine with
# Rust (rustup) already present: redis-server, pkg-config, libzmq3-dev (the
# ZeroMQ row of the benchmarks), gcc, g++ and make (the C and C++ tests and
# examples), rustfmt, clippy and cargo-nextest. Safe to run
# again: it installs only what is missing and prints nothing then.
# scripts/demo.sh, scripts/test.sh and .ci/run call it first.
set -euo pipefail
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)   # syncd's mirror and its tests
command -v truncate >/dev/null 2>&1 || need_apt+=(coreutils)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists libzmq 2>/dev/null || need_apt+=(libzmq3-dev)        # the ZeroMQ row of benches/compare
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)                        # the C ABI's tests and examples
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)                        # the C++ wrapper's tests and examples
command -v make >/dev/null 2>&1 || need_apt+=(make)                      # examples/Makefile
command -v dpkg-deb >/dev/null 2>&1 || need_apt+=(dpkg)                  # scripts/debs.sh
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (Debian packages)"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  log=$(mktemp)
  install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >>"$log" 2>&1; }
  install || { $SUDO apt-get update -qq >>"$log" 2>&1 && install; } \
    || { cat "$log" >&2; echo "setup: apt-get could not install ${need_apt[*]}" >&2; exit 1; }
  rm -f "$log"
fi
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: building cargo-nextest (once; a few minutes on 2 cores)"
  cargo install --locked --quiet cargo-nextest
fi
