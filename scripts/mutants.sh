#!/usr/bin/env bash
# cargo-mutants on the core files, each with the test packages that exercise
# it (so that a transport test catching a ring mutant counts), and a table of
# caught / missed / unviable / timeout per file and in total. Configuration
# (the functions left out, and why) is in .cargo/mutants.toml; the ring's
# memory orderings have their own mutants, run against the loom models by
# loom-tests/mutants.sh.
#
#   scripts/mutants.sh                          # every core file (hours on 2 cores)
#   scripts/mutants.sh transport/src/codec/encode.rs ring/src/ring/producer.rs
#   scripts/mutants.sh --in-diff REV [--max N]  # only lines changed since REV
#
# --in-diff (CI) examines only the mutants on lines changed since REV (the
# working tree's changes when it has any); when there are more than --max
# (default 12), a shard of them chosen by the current commit, so that every
# commit tries a different part. It skips the unmutated baseline (CI has just
# run the tests) and mutates the tree in place, building in its own target
# directory (stopped by a signal mid-mutant, it can leave the mutated line in
# place: `git diff` shows it, marked "changed by cargo-mutants"). Outcomes go
# to target/mutants/<file>/;
# missed mutants are listed under the table. Exits 2 when a mutant was
# missed, 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# A property test that fails under a mutant would otherwise spend its time
# shrinking the failure, and be counted as a timeout rather than a catch.
export PROPTEST_MAX_SHRINK_ITERS="${PROPTEST_MAX_SHRINK_ITERS:-0}"

# The core files, and what runs against each one's mutants: test packages,
# then arguments for `cargo nextest run`. The codec's own unit tests are
# thorough and take a second; the transport's process tests take minutes.
core_files() {
  ls ring/src/ring/*.rs transport/src/codec/{mod,encode,decode}.rs \
     transport/src/{endpoint,bell,client,server,rendezvous,channel}.rs \
     syncd/src/{mirror,daemon,vs}.rs
}
test_scope() {
  case "$1" in
    ring/*) echo "sairing-ring,sairing-transport" ;;
    transport/src/codec/*) echo "sairing-transport --lib" ;;
    transport/*) echo "sairing-transport" ;;
    syncd/*) echo "sairing-syncd" ;;
    *) echo "no test packages known for $1" >&2; return 1 ;;
  esac
}

in_diff="" max=12 files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --in-diff) in_diff="$2"; shift 2 ;;
    --max) max="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 1 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(core_files)

if ! cargo mutants --version 2>/dev/null | grep -q '^cargo-mutants 27\.'; then
  echo "== installing cargo-mutants 27.1.0 (once)"
  cargo install --locked --quiet cargo-mutants@27.1.0
fi

out=target/mutants
mkdir -p "$out"
diff_args=() fast=()
if [ -n "$in_diff" ]; then
  if ! git rev-parse --verify --quiet "$in_diff^{commit}" >/dev/null; then
    echo "--in-diff $in_diff: no such commit here (a shallow clone?)" >&2
    exit 1
  fi
  if git diff --quiet HEAD -- '*.rs'; then
    git diff "$in_diff" HEAD -- '*.rs' > "$out/change.diff"
  else
    git diff HEAD -- '*.rs' > "$out/change.diff"
  fi
  diff_args=(--in-diff "$out/change.diff")
  # CI has just run every test: no unmutated baseline per file, and the
  # mutants built in this tree's own target directory (incremental, seconds
  # each; cargo-mutants puts every file back after each mutant).
  fast=(--in-place --baseline skip --timeout 240)
fi

# Mutants of one file, for the shard choice: `cargo mutants --list`.
count() {
  cargo mutants --list --file "$1" "${diff_args[@]}" 2>/dev/null | grep -c . || true
}

total_listed=0
declare -A listed
for f in "${files[@]}"; do
  n=$(count "$f")
  listed[$f]=$n
  total_listed=$((total_listed + n))
done
shard=()
if [ -n "$in_diff" ] && [ "$total_listed" -gt "$max" ]; then
  shards=$(( (total_listed + max - 1) / max ))
  k=$(( $(git rev-parse --short=8 HEAD | xargs -I{} printf '%d' 0x{}) % shards ))
  shard=(--shard "$k/$shards")
  echo "$total_listed mutants in the change: shard $k of $shards (chosen by the commit)"
fi

printf '%-36s %7s %7s %9s %8s %7s\n' file caught missed unviable timeout caught%
sum_c=0 sum_m=0 sum_u=0 sum_t=0 start=$SECONDS ran=()
for f in "${files[@]}"; do
  [ "${listed[$f]}" -gt 0 ] || continue
  dir="$out/${f//\//_}"
  rm -rf "$dir"
  set +e
  read -r packages test_args <<<"$(test_scope "$f")"
  extra=()
  for a in $test_args; do extra+=("--cargo-test-arg=$a"); done
  cargo mutants --file "$f" --test-package "$packages" "${extra[@]}" "${diff_args[@]}" \
    "${shard[@]}" "${fast[@]}" --test-tool nextest --no-shuffle \
    --output "$dir" > "$dir.log" 2>&1
  rc=$?
  set -e
  # 0 all caught, 2 missed, 3 timeouts; 1 and 4 are usage and a failing
  # baseline (the tests fail without any mutant).
  if [ "$rc" = 1 ] || [ "$rc" = 4 ]; then
    echo "cargo mutants failed on $f (exit $rc); see $dir.log" >&2
    tail -20 "$dir.log" >&2
    exit 1
  fi
  m="$dir/mutants.out"
  ran+=("$m")
  lines() { if [ -f "$m/$1" ]; then grep -c . "$m/$1" || true; else echo 0; fi; }
  c=$(lines caught.txt) mi=$(lines missed.txt) u=$(lines unviable.txt) t=$(lines timeout.txt)
  [ $((c + mi + u + t)) -gt 0 ] || continue
  pct=$(( (c + mi + t) > 0 ? 100 * c / (c + mi + t) : 100 ))
  printf '%-36s %7d %7d %9d %8d %6d%%\n' "$f" "$c" "$mi" "$u" "$t" "$pct"
  sum_c=$((sum_c + c)) sum_m=$((sum_m + mi)) sum_u=$((sum_u + u)) sum_t=$((sum_t + t))
done
viable=$((sum_c + sum_m + sum_t))
printf '%-36s %7d %7d %9d %8d %6d%%\n' total "$sum_c" "$sum_m" "$sum_u" "$sum_t" \
  $(( viable > 0 ? 100 * sum_c / viable : 100 ))
echo "($((SECONDS - start)) s; outcomes in $out/)"
if [ "$sum_t" -gt 0 ]; then
  # A mutant that makes a test hang is noticed, by the timeout; listed so
  # that a slow test is not mistaken for one.
  echo "timed out (counted as noticed, not as caught):"
  for m in "${ran[@]}"; do cat "$m/timeout.txt" 2>/dev/null; done | sed 's/^/  /'
fi
if [ "$sum_m" -gt 0 ]; then
  echo "missed:"
  for m in "${ran[@]}"; do cat "$m/missed.txt" 2>/dev/null; done | sed 's/^/  /'
  exit 2
fi
