#!/usr/bin/env bash
# Soak: the route workload, over and over, while syncd is SIGKILLed at random,
# orchagent is SIGKILLed and resumed, Redis is SIGKILLed and restarted (AOF
# everysec in even rounds, no persistence in odd ones: syncd always records, so
# a warm start can rebuild what Redis lost) and FLUSHDB is injected. Each round
# ends with ASIC_STATE compared with a clean run's (same workload, no faults).
#
#   scripts/soak.sh --minutes N [--routes R]
#
# Prints a line per round, then the kills of each kind, requests, lost and
# applied twice. Exits non-zero on any difference, refusal or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=1
routes=60000
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --routes) routes=$2; shift 2 ;;
    *) echo "usage: scripts/soak.sh --minutes N [--routes R]" >&2; exit 2 ;;
  esac
done
cargo build --quiet --release -p sairing-syncd -p sairing-orchagent
bin=$PWD/target/release
work=$(mktemp -d /dev/shm/sairing-soak.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pkill -9 -f "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rnd() { echo $((RANDOM % $1)); } # 0..N-1

# --- Redis -------------------------------------------------------------------
start_redis() { # port dir persist(yes|no)
  mkdir -p "$2"
  local aof=(--appendonly no)
  [ "$3" = yes ] && aof=(--appendonly yes --appendfsync everysec)
  redis-server --port "$1" --bind 127.0.0.1 --save "" "${aof[@]}" --dir "$2" \
    --enable-debug-command yes --daemonize no --loglevel warning >>"$2/log" 2>&1 &
  echo $!
}
# Kills a process that is not this shell's child (redis-server is started in a
# subshell) and waits until it is gone, so that its port is free again.
kill_gone() { kill -9 "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.01; done; }
wait_redis() { until redis-cli -p "$1" ping >/dev/null 2>&1; do sleep 0.02; done; }
progress() { redis-cli -p "$1" -n 1 hget SAIRING_PROGRESS seq 2>/dev/null || true; }
# The digest of database 1 without the progress record (its ring id differs).
state_digest() { # port
  redis-cli -p "$1" -n 1 del SAIRING_PROGRESS >/dev/null
  redis-cli -p "$1" debug digest
}

# --- the clean reference ---------------------------------------------------------
seed=7
echo "soak: $minutes min, $routes routes a round, 2 cores; reference run first"
rport=$(free_port)
rpid=$(start_redis "$rport" "$work/ref-redis" no); pids+=("$rpid"); wait_redis "$rport"
"$bin/syncd" --channel "$work/ref" --create --capacity $((64 << 20)) \
  --redis "redis://127.0.0.1:$rport/1" >"$work/ref.syncd.log" 2>&1 &
spid=$!
until grep -q ready "$work/ref.syncd.log"; do sleep 0.02; done
ref_json=$("$bin/orchagent" routes --count "$routes" --seed "$seed" --channel "$work/ref" \
  --mode pipelined --quiet --json)
total=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$ref_json")
until [ "$(progress "$rport")" = "$total" ]; do sleep 0.02; done
kill -TERM "$spid"; wait "$spid"
ref_digest=$(state_digest "$rport")
ref_keys=$(redis-cli -p "$rport" -n 1 dbsize)
kill_gone "$rpid"
echo "reference: $total requests, $ref_keys objects, digest $ref_digest"

# --- rounds ----------------------------------------------------------------------
k_syncd=0 k_orch=0 k_redis=0 flushes=0 requests=0 twice=0 lost=0 rounds=0
deadline=$((SECONDS + minutes * 60))
while [ $SECONDS -lt $deadline ]; do
  rounds=$((rounds + 1))
  persist=$([ $((rounds % 2)) = 0 ] && echo yes || echo no)
  dir="$work/r$rounds"; rec="$work/r$rounds.rec"
  port=$(free_port); url="redis://127.0.0.1:$port/1"
  rdir="$work/r$rounds-redis"
  redis_pid=$(start_redis "$port" "$rdir" "$persist"); pids+=("$redis_pid"); wait_redis "$port"
  syncd_args=(--channel "$dir" --redis "$url" --record "$rec" --record-max-bytes $((4 << 20)) --record-keep 1000)
  start_syncd() { # extra args
    local log="$dir.syncd.$SECONDS.$RANDOM.log"
    while :; do
      "$bin/syncd" "${syncd_args[@]}" "$@" >"$log" 2>&1 &
      syncd_pid=$!
      until grep -q ready "$log" 2>/dev/null || ! kill -0 "$syncd_pid" 2>/dev/null; do sleep 0.01; done
      if grep -q ready "$log"; then return; fi
      wait "$syncd_pid" || true
      if grep -q 'redis at' "$log" && ! grep -q 'checkpoint\|released' "$log"; then
        sleep 0.1; continue # Redis is down: try again
      fi
      echo "syncd refused to start:"; cat "$log"; exit 1
    done
  }
  start_syncd --create --capacity $((64 << 20))
  start_orch() { # extra args
    "$bin/orchagent" routes --count "$routes" --seed "$seed" --channel "$dir" --mode pipelined \
      --quiet --json "$@" >>"$dir.orch.json" 2>>"$dir.orch.err" &
    orch_pid=$!
  }
  : >"$dir.orch.json"
  start_orch
  while :; do
    if ! kill -0 "$orch_pid" 2>/dev/null; then
      if wait "$orch_pid"; then break; fi
      # It ended with an error (syncd gone longer than its timeout): resume.
      start_orch --resume
    fi
    sleep "0.$((1 + $(rnd 4)))"
    case $(rnd 5) in
      0) kill -9 "$syncd_pid" 2>/dev/null || true; wait "$syncd_pid" 2>/dev/null || true
         k_syncd=$((k_syncd + 1)); start_syncd --warm ;;
      1) if kill -9 "$orch_pid" 2>/dev/null; then
           wait "$orch_pid" 2>/dev/null || true; k_orch=$((k_orch + 1)); start_orch --resume
         fi ;;
      2) kill_gone "$redis_pid"
         k_redis=$((k_redis + 1))
         # Now and then syncd dies while Redis is down, too.
         if [ "$(rnd 2)" = 0 ]; then
           kill -9 "$syncd_pid" 2>/dev/null || true; wait "$syncd_pid" 2>/dev/null || true
           k_syncd=$((k_syncd + 1)); syncd_dead=1
         else syncd_dead=0; fi
         redis_pid=$(start_redis "$port" "$rdir" "$persist"); pids+=("$redis_pid"); wait_redis "$port"
         [ "$syncd_dead" = 1 ] && start_syncd --warm ;;
      3) redis-cli -p "$port" -n 1 flushdb >/dev/null; flushes=$((flushes + 1)) ;;
      4) ;;
    esac
  done
  t0=$SECONDS
  until [ "$(progress "$port")" = "$total" ]; do
    if ! kill -0 "$syncd_pid" 2>/dev/null; then echo "syncd died:"; cat "$dir".syncd.*.log | tail -5; exit 1; fi
    if [ $((SECONDS - t0)) -gt 120 ]; then echo "checkpoint stuck at $(progress "$port") of $total"; exit 1; fi
    sleep 0.02
  done
  kill -TERM "$syncd_pid"; wait "$syncd_pid"
  digest=$(state_digest "$port")
  keys=$(redis-cli -p "$port" -n 1 dbsize)
  read -r n dup fails < <(python3 -c '
import json, sys
n = d = f = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        s = json.loads(line); n += s["answered"]; d += s["duplicates_with_other_status"]; f += s["failures"]
print(n, d, f)' "$dir.orch.json")
  requests=$((requests + total)); twice=$((twice + dup))
  round_lost=$([ "$digest" = "$ref_digest" ] && echo 0 || echo $((ref_keys > keys ? ref_keys - keys : 1)))
  lost=$((lost + round_lost))
  echo "round $rounds (redis $([ "$persist" = yes ] && echo 'AOF everysec' || echo 'no persistence')): $total requests, $n answered to the orchagent that finished, failures $fails, $keys objects, $([ "$digest" = "$ref_digest" ] && echo 'ASIC_STATE equal to the clean run' || echo 'ASIC_STATE DIFFERS')"
  kill_gone "$redis_pid"
  rm -rf "$dir" "$rdir" "$rec"* "$dir".*
  if [ "$round_lost" != 0 ] || [ "$dup" != 0 ] || [ "$fails" != 0 ]; then
    echo "soak FAILED"; exit 1
  fi
done
echo "soak: $rounds rounds in $((SECONDS / 60)) min; kills: syncd $k_syncd, orchagent $k_orch, redis $k_redis; FLUSHDB $flushes; requests $requests; lost $lost; applied twice $twice"
