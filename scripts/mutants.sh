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
# Each file's mutants meet its tests in stages (see `stages` below): the
# quick tests first, then only the mutants they missed meet the slow process
# tests, and a ring file's last survivors the loom models. A full run
# mutates a copy of the tree (target/mutants/tree, kept for incremental
# builds), so this tree can be edited meanwhile.
#
# --in-diff (CI) examines only the mutants on lines changed since REV (the
# working tree's changes when it has any); when there are more than --max
# (default 12), a shard of them chosen by the current commit, so that every
# commit tries a different part. It skips the unmutated baseline (CI has just
# run the tests) and mutates this tree in place, building in its own target
# directory (stopped by a signal mid-mutant, it can leave the mutated line in
# place: `git diff` shows it, marked "changed by cargo-mutants"). Outcomes go
# to target/mutants/<file>.<stage>/; missed mutants are listed under the
# table. Exits 2 when a mutant was missed, 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# A property test that fails under a mutant would otherwise spend its time
# shrinking the failure, and be counted as a timeout rather than a catch.
export PROPTEST_MAX_SHRINK_ITERS="${PROPTEST_MAX_SHRINK_ITERS:-0}"

# The core files, and what runs against each one's mutants, in stages: the
# first stage's tests run against every mutant; each later stage's only
# against the mutants the stages before it missed (a mutant caught by any
# test counts as caught, and the slow process tests run a few dozen times
# rather than hundreds). A stage is test packages, then arguments for
# `cargo nextest run`; "loom" is the loom models (RUSTFLAGS="--cfg loom",
# release), so that the ring's table counts the mutants only they catch.
core_files() {
  ls ring/src/ring/*.rs transport/src/codec/{mod,encode,decode}.rs \
     transport/src/{endpoint,bell,client,server,rendezvous,channel}.rs \
     syncd/src/{mirror,daemon,vs,store,changed,text,snapshot}.rs
}
# The transport's tests but the slow one (a ten-second storm of random bytes):
# a few seconds a mutant; that one runs only against what they missed. No
# spaces: a stage's arguments are split on them.
transport_slow='test(=random_bytes_in_both_rings_while_both_sides_run)'
stages() {
  case "$1" in
    ring/*) printf '%s\n' "sairing-ring" "sairing-transport" "loom" ;;
    transport/src/codec/*) echo "sairing-transport --lib" ;;
    transport/*) printf '%s\n' "sairing-transport -E !$transport_slow" \
                   "sairing-transport -E $transport_slow" ;;
    syncd/*) printf '%s\n' "sairing-syncd --lib" "sairing-syncd" ;;
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

out=$PWD/target/mutants
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
  # CI has just run every test: no unmutated baseline, and the mutants built
  # in this tree's own target directory (incremental, seconds each;
  # cargo-mutants puts every file back after each mutant). Without a
  # baseline to scale from, the timeouts are fixed (`stage_timeout`).
  fast=(--baseline skip)
  tree=$PWD
  loom_target=$PWD/target/loom
else
  # A full run mutates a copy of the tree, kept between runs so that its
  # builds are incremental, and leaves this tree free to edit meanwhile.
  tree=$out/tree
  mkdir -p "$tree"
  find "$tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
  # Fresh mtimes (-m): a copy of a file a stopped run left mutated, restored
  # with its old mtime, would leave that mutant's build looking up to date.
  tar -c --exclude=./target --exclude=./.git . | tar -x -m -C "$tree"
  loom_target=$tree/target/loom
  # The programs the tests start (chanpeer, ringstress, syncd, ...) are built
  # by the first test that needs one; in a fresh copy that build alone takes
  # longer than the unmutated tests may (half a minute): built here first.
  # Each mutant's test run then rebuilds only what the mutated file touches.
  echo "== building the workspace's programs in $tree"
  (cd "$tree" && cargo build --quiet --workspace --bins)
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

# One stage on one file: its tests against the mutants chosen by the
# remaining arguments, outcomes in $1.
stage() {
  local dir="$1" spec="$2"; shift 2
  local packages test_args extra=() env=() rc
  read -r packages test_args <<<"$spec"
  if [ "$packages" = loom ]; then
    packages=sairing-loom-tests test_args="--test ring"
    env=(RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR="$loom_target")
    extra=(--profile release)
  fi
  # The first failing test catches the mutant: the rest are not waited for
  # (the workspace's nextest profile runs every test, which under a mutant
  # that makes several tests wait out their deadlines took longer than the
  # stage's timeout, and a mutant already caught was counted as a timeout).
  extra+=(--cargo-test-arg=--fail-fast)
  for a in $test_args; do extra+=("--cargo-test-arg=$a"); done
  set +e
  (cd "$tree" && env "${env[@]}" cargo mutants --in-place --test-package "$packages" \
     "${extra[@]}" "$@" "${fast[@]}" --test-tool nextest --no-shuffle \
     --output "$dir") > "$dir.log" 2>&1
  rc=$?
  set -e
  # 0 all caught, 2 missed, 3 timeouts; 1 and 4 are usage and a failing
  # baseline (the tests fail without any mutant).
  if [ "$rc" = 1 ] || [ "$rc" = 4 ]; then
    echo "cargo mutants failed ($spec, exit $rc); see $dir.log" >&2
    tail -20 "$dir.log" >&2
    exit 1
  fi
}

# Whether a stage runs a filtered set of tests (`-E`): seconds unmutated, so
# half a minute is a hang.
filtered() { [[ $1 == *" -E "* ]]; }

# The names in a list, as one regex matching exactly them.
names_re() {
  sed -e 's/[][\.*^$()+?{}|]/\\&/g' "$1" | paste -sd'|' - | sed 's/.*/^(&)$/'
}

printf '%-36s %7s %7s %9s %8s %7s\n' file caught missed unviable timeout caught%
sum_c=0 sum_m=0 sum_u=0 sum_t=0 start=$SECONDS
missed_all=() timeout_all=()
: > "$out/stages.txt"
for f in "${files[@]}"; do
  [ "${listed[$f]}" -gt 0 ] || continue
  base="$out/${f//\//_}"
  rm -rf "$base" "$base".*
  c=0 u=0 t=0 mi=0 i=0 left=""
  while read -r spec; do
    i=$((i + 1))
    dir="$base.$i"
    if [ "$i" = 1 ]; then
      # The first stage's tests take seconds unmutated (a minute is a
      # hang); in a full run, cargo-mutants scales from its baseline.
      stage "$dir" "$spec" --file "$f" "${diff_args[@]}" "${shard[@]}" \
        $(if [ -n "$in_diff" ]; then echo --timeout 60;
          elif filtered "$spec"; then echo --timeout 30; fi)
    else
      # Only what the stages before missed, without a baseline of its own:
      # the process tests take minutes.
      [ -s "$left" ] || break
      stage "$dir" "$spec" --file "$f" --re "$(names_re "$left")" \
        $([ -n "$in_diff" ] || echo --baseline skip) \
        --timeout "$(if filtered "$spec"; then echo 30; else echo 300; fi)"
    fi
    m="$dir/mutants.out"
    # A later stage's outcomes count only for the mutants sent to it: `--re`
    # can match more (cargo-mutants matched a `delete field` mutant the
    # stage before had caught, and it was counted twice).
    only() {
      [ -f "$m/$1" ] || return 0
      if [ "$i" = 1 ]; then cat "$m/$1"; else grep -Fxf "$left" "$m/$1" || true; fi
    }
    lines() { only "$1" | grep -c . || true; }
    c=$((c + $(lines caught.txt))) u=$((u + $(lines unviable.txt))) t=$((t + $(lines timeout.txt)))
    mapfile -t -O "${#timeout_all[@]}" timeout_all < <(only timeout.txt)
    [ "$i" = 1 ] || echo "  $f, stage $i ($spec): $(lines caught.txt) more caught" >> "$out/stages.txt"
    only missed.txt > "$dir/left.txt"
    left="$dir/left.txt"
  done < <(stages "$f")
  [ -f "$left" ] && mi=$(grep -c . "$left" || true) && mapfile -t -O "${#missed_all[@]}" missed_all < "$left"
  [ $((c + mi + u + t)) -gt 0 ] || continue
  pct=$(( (c + mi + t) > 0 ? 100 * c / (c + mi + t) : 100 ))
  printf '%-36s %7d %7d %9d %8d %6d%%\n' "$f" "$c" "$mi" "$u" "$t" "$pct"
  sum_c=$((sum_c + c)) sum_m=$((sum_m + mi)) sum_u=$((sum_u + u)) sum_t=$((sum_t + t))
done
viable=$((sum_c + sum_m + sum_t))
printf '%-36s %7d %7d %9d %8d %6d%%\n' total "$sum_c" "$sum_m" "$sum_u" "$sum_t" \
  $(( viable > 0 ? 100 * sum_c / viable : 100 ))
echo "($((SECONDS - start)) s; outcomes in $out/)"
if [ -s "$out/stages.txt" ]; then
  echo "caught by the later stages (in the figures above):"
  cat "$out/stages.txt"
fi
if [ "$sum_t" -gt 0 ]; then
  # A mutant that makes a test hang is noticed, by the timeout; listed so
  # that a slow test is not mistaken for one.
  echo "timed out (counted as noticed, not as caught):"
  printf '  %s\n' "${timeout_all[@]}"
fi
if [ "$sum_m" -gt 0 ]; then
  echo "missed:"
  printf '  %s\n' "${missed_all[@]}"
  exit 2
fi
