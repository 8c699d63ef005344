#!/usr/bin/env bash
# The whole test suite: the documentation examples, then every unit, integration
# and multi-process test of the workspace (nextest, one process per test).
# Installs what it needs first (scripts/setup.sh; nothing when all is there).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --doc --quiet
cargo nextest run --workspace "$@"
