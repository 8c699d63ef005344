#!/usr/bin/env bash
# Mutation check of the ring's memory orderings: for each ordering the protocol
# relies on, build the ring with that one ordering weakened
# (--cfg sairing_mutant="<site>", see ring/src/sync.rs) and run the loom models
# against it. Prints a table (site, ordering, models that caught it) and exits
# non-zero unless the unmutated ring passes every model and every mutant fails
# at least one.
#
#   loom-tests/mutants.sh            # LOOM_MAX_PREEMPTIONS defaults to 3
set -uo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"

sites=(tail_publish tail_acquire head_release head_acquire sleep_fence space_fence)
declare -A change=(
  [tail_publish]="producer's tail store: Release -> Relaxed"
  [tail_acquire]="consumer's tail load: Acquire -> Relaxed"
  [head_release]="consumer's head store: Release -> Relaxed"
  [head_acquire]="producer's head load: Acquire -> Relaxed"
  [sleep_fence]="consumer-sleep fences: SeqCst -> AcqRel"
  [space_fence]="producer-wait fences: SeqCst -> AcqRel"
)

# Runs the models with extra RUSTFLAGS; prints the names of the failing models.
run_models() {
  local flags="$1" out
  out=$(RUSTFLAGS="--cfg loom $flags" cargo test -p sairing-loom-tests --release --test ring \
        -- --test-threads=2 2>&1)
  if ! grep -q 'test result' <<<"$out"; then
    echo "BUILD-FAILED"
    echo "$out" | tail -20 >&2
    return
  fi
  grep -oE '^test [a-z_]+ \.\.\. FAILED' <<<"$out" | awk '{print $2}' | sort | paste -sd, -
}

start=$SECONDS
echo "loom models, LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS"
base=$(run_models "")
if [ -n "$base" ]; then
  echo "the unmutated ring fails: $base" >&2
  exit 1
fi
echo "unmutated ring: every model passes"
echo
printf '%-13s | %-45s | %s\n' "site" "weakened ordering" "caught by"
printf '%-13s-+-%-45s-+-%s\n' "-------------" "---------------------------------------------" "---------"
missed=0
for site in "${sites[@]}"; do
  caught=$(run_models "--cfg sairing_mutant=\"$site\"")
  if [ -z "$caught" ]; then
    caught="NOT CAUGHT"
    missed=$((missed + 1))
  elif [ "$caught" = "BUILD-FAILED" ]; then
    missed=$((missed + 1))
  fi
  printf '%-13s | %-45s | %s\n' "$site" "${change[$site]}" "$caught"
done
echo
echo "$(( ${#sites[@]} - missed )) of ${#sites[@]} mutants caught in $((SECONDS - start)) s"
[ "$missed" -eq 0 ]
