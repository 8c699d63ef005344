#!/usr/bin/env bash
# Conformance against real recordings: replays every *.rec in DIR through
# orchagent -> ring -> syncd -> a private Redis, each on a fresh channel, and
# compares Redis's ASIC_STATE with an independent fold of the file. Prints one
# line per recording and a summary; fails if any recording fails, and when DIR
# is missing or holds no *.rec (it never passes on nothing).
# Usage: scripts/conformance.sh DIR [--no-sleep] [--mode sync|async|pipelined]
# DIR: a folder of sairedis.rec files, e.g. sonic-sairedis's tests/BCM56850.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: scripts/conformance.sh DIR [--no-sleep] [--mode MODE]" >&2
  exit 2
fi
dir=$1; shift
if [ ! -d "$dir" ]; then
  echo "conformance: $dir: no such folder (give a folder of sairedis.rec files)" >&2
  exit 2
fi
dir=$(cd "$dir" && pwd)
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --release -p sairing-syncd -p sairing-orchagent -p sairing-demo
exec target/release/conformance "$dir" "$@"
