#!/usr/bin/env bash
# chanbench with the C API's rows: builds the release library and
# capi/bench/cbench.c against it, then runs chanbench with --c-bench, so that
# the C client's and the C server's figures come from the same run as the Rust
# rows they compare with. Arguments go to chanbench (--samples, --messages,
# --json ...).
#   scripts/chanbench-c.sh --samples 20000 --messages 4000000 --rounds 9
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p sairing-capi --lib -p sairing-benches --bin chanbench
mkdir -p "$target/release/cbench-build"
exe="$target/release/cbench-build/cbench"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -Icapi/include capi/bench/cbench.c \
  "$target/release/libsairing.a" -lpthread -ldl -lm -o "$exe"
exec "$target/release/chanbench" --c-bench "$exe" "$@"
