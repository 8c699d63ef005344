#!/usr/bin/env bash
# The main job: syncd and orchagent over a fresh channel, 100,000 routes, syncd
# killed with SIGKILL half way and restarted warm, and the Redis mirror checked
# against what the request stream implies. Starts a private redis-server unless
# given --redis URL. Other options: target/release/demo --help.
# Installs what it needs first (scripts/setup.sh; nothing when all is there).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --release -p sairing-syncd -p sairing-orchagent -p sairing-demo
exec target/release/demo "$@"
