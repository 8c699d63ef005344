#!/usr/bin/env bash
# Instructions per single-threaded push+pop of one record, counted by valgrind's
# callgrind (stable on a noisy machine): the difference between two runs of
# `ringloop` divided by the difference in message count, so setup cancels out.
# Usage: scripts/instructions.sh [SIZE]   (default 128 bytes)
set -euo pipefail
size=${1:-128}
cd "$(dirname "$0")/.."
cargo build --quiet --release -p sairing-benches --bin ringloop
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null ./target/release/ringloop \
    --messages "$1" --size "$size" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count 100000)
b=$(count 300000)
echo "size ${size} B: $(( (b - a) / 200000 )) instructions per push+pop (callgrind: ${a} for 100k, ${b} for 300k)"
