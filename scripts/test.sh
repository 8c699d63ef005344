#!/usr/bin/env bash
# The whole test suite: the documentation examples, then every unit, integration
# and multi-process test of the workspace (nextest, one process per test).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --doc --quiet
cargo nextest run --workspace "$@"
