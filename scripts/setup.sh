#!/usr/bin/env bash
# Installs what building and testing sairing needs on a fresh Debian machine with
# Rust (rustup) already present. Safe to run again: it installs only what is missing.
set -euo pipefail
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)   # syncd's mirror and its tests
command -v truncate >/dev/null 2>&1 || need_apt+=(coreutils)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists libzmq 2>/dev/null || need_apt+=(libzmq3-dev)        # the ZeroMQ row of benches/compare
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" 2>/dev/null \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"; }
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
