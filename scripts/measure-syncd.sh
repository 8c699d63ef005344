#!/usr/bin/env bash
# Figures for syncd and orchagent (release build, private redis-server):
#  - replay time of each recording in REC_DIR (pipelined; default
#    testdata/recordings/bringup.rec, or every *.rec of REC_DIR when set);
#  - the route workload (default 1,000,000 routes) in sync, async and pipelined
#    mode: requests/s as orchagent reports them;
#  - how long the Redis mirror takes to catch up after orchagent's last answer;
#  - syncd's resident memory at the end, and its heap (RssAnon: without the
#    rings' pages) per object, then and once syncd has been idle a second;
#  - the CPU each took until the mirror caught up: orchagent, syncd's apply
#    loop (its start included: the rings' pages) and its mirror thread,
#    redis-server (all its threads, from orchagent's start);
#  - how long `syncd --warm` takes over what Redis then holds, exec to ready,
#    and its heap per object then (the switch alone).
# Usage: scripts/measure-syncd.sh [ROUTES]
# Environment: MODES (default "pipelined async sync"), REC_DIR=DIR to replay
# every *.rec there (sonic-sairedis's tests/BCM56850, say), REPLAYS=0 to skip the
# recordings, BIN=DIR to measure another build's syncd and orchagent (for
# comparing two builds; nothing is built then).
set -euo pipefail
cd "$(dirname "$0")/.."
routes=${1:-1000000}
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --quiet --release -p sairing-syncd -p sairing-orchagent
  bin=target/release
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d /dev/shm/sairing-measure.XXXXXX)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no --loglevel warning &
rpid=$!
trap 'set +e; kill $rpid 2>/dev/null; pkill -f "syncd --channel $work" 2>/dev/null; rm -rf "$work"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
url="redis://127.0.0.1:$port/1"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), redis-server $(redis-server --version | awk '{print $3}')"

start_syncd() { # dir
  "$bin/syncd" --channel "$1" --create --capacity $((256 << 20)) --redis "$url" > "$1.syncd.log" 2>&1 &
  spid=$!
  until grep -q ready "$1.syncd.log" 2>/dev/null; do sleep 0.01; done
}
stop_syncd() { kill -TERM "$spid"; wait "$spid"; }
# CPU seconds a thread has had (/proc/PID/task/TID/schedstat: nanoseconds),
# and a whole process, all its threads (/proc/PID/stat: clock ticks).
cpu() { awk '{printf "%.2f", $1 / 1e9}' "$1/schedstat"; }
tick=$(getconf CLK_TCK)
process_cpu() { awk -v t="$tick" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }

if [ -n "${REC_DIR:-}" ]; then
  replays=$(cd "$REC_DIR" && ls -- *.rec)
  rec_dir=$(cd "$REC_DIR" && pwd)
else
  replays="bringup.rec"
  rec_dir=testdata/recordings
fi
[ "${REPLAYS:-1}" = 0 ] && replays=""
for f in $replays; do
  redis-cli -p "$port" -n 1 flushdb >/dev/null
  d="$work/replay-$f"
  start_syncd "$d"
  out=$("$bin/orchagent" replay "$rec_dir/$f" --channel "$d" --mode pipelined --quiet --json)
  stop_syncd
  python3 -c "import json,sys; s=json.loads(sys.argv[1]); print(f\"replay {sys.argv[2]:22s} {s['requests']:6d} requests in {s['seconds']:.3f} s ({s['requests_per_s']:.0f}/s), failures {s['failures']}\")" "$out" "$f"
done

for mode in ${MODES:-pipelined async sync}; do
  redis-cli -p "$port" -n 1 flushdb >/dev/null
  d="$work/routes-$mode"
  start_syncd "$d"
  redis0=$(process_cpu "$rpid")
  out=$("$bin/orchagent" routes --count "$routes" --channel "$d" --mode "$mode" --quiet --json)
  done_at=$(date +%s.%N)
  total=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['requests'])" "$out")
  # Polled every 20 ms (figures to 20 ms): faster polling took CPU from the
  # 2 cores it measures, and requests from the Redis it waits on.
  until [ "$(redis-cli -p "$port" -n 1 hget SAIRING_PROGRESS seq)" = "$total" ]; do sleep 0.02; done
  caught=$(date +%s.%N)
  cpus="orchagent $(python3 -c "import json,sys; c=json.loads(sys.argv[1]).get('cpu_s'); print('?' if c is None else f'{c:.2f}')" "$out") s"
  for t in /proc/$spid/task/*; do cpus="$cpus, $(cat "$t/comm") $(cpu "$t") s"; done
  cpus="$cpus, redis-server $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$redis0" "$(process_cpu "$rpid")") s"
  rss=$(awk '/VmRSS/{print $2}' "/proc/$spid/status")
  # The heap: resident memory less the rings' shared pages and the binary.
  anon=$(awk '/RssAnon/{print $2}' "/proc/$spid/status")
  # And once syncd has been idle for a second (its mirror hands memory freed
  # after a burst back to the system when idle).
  sleep 1
  idle_anon=$(awk '/RssAnon/{print $2}' "/proc/$spid/status")
  keys=$(redis-cli -p "$port" -n 1 dbsize)
  stop_syncd
  # A warm start over what Redis now holds: from exec to "ready".
  t0=$(date +%s.%N)
  "$bin/syncd" --channel "$d" --warm --redis "$url" > "$d.warm.log" 2>&1 &
  spid=$!
  until grep -q ready "$d.warm.log" 2>/dev/null; do sleep 0.02; done
  warm=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(date +%s.%N)")
  phases=$(grep -o 'objects read from redis in [0-9.]* s\|the switch made in [0-9.]* s' "$d.warm.log" | paste -sd, - || true)
  # Its heap once ready: the switch alone (the run's heap above also holds
  # what the mirror had queued at its peak, which the allocator keeps).
  warm_anon=$(awk '/RssAnon/{print $2}' "/proc/$spid/status")
  stop_syncd
  python3 -c "
import json,sys
s=json.loads(sys.argv[1]); lag=float(sys.argv[3])-float(sys.argv[2]); rss=int(sys.argv[4]); keys=int(sys.argv[5])
anon=int(sys.argv[7]); warm=float(sys.argv[8]); warm_anon=int(sys.argv[9]); idle_anon=int(sys.argv[10]); objects=keys-2  # less SAIRING_PROGRESS and SAIRING_PROFILE
print(f\"routes {sys.argv[6]:9s} {s['requests']} requests in {s['seconds']:.2f} s: {s['requests_per_s']:.0f} requests/s, \"
      f\"latency p50 {s['latency_us']['p50']:.1f} us p99 {s['latency_us']['p99']:.1f} us; mirror caught up {lag*1000:.0f} ms after the last answer; \"
      f\"redis keys {keys}; syncd RSS {rss/1024:.0f} MiB, heap (RssAnon) {anon/1024:.0f} MiB = {anon*1024/objects:.0f} B per object, {idle_anon*1024/objects:.0f} B idle a second later; \"
      f\"syncd --warm over {objects} objects: {warm:.2f} s to ready ({sys.argv[11]}), heap then {warm_anon*1024/objects:.0f} B per object; \"
      f\"CPU until the mirror caught up: {sys.argv[12]}\")
" "$out" "$done_at" "$caught" "$rss" "$keys" "$mode" "$anon" "$warm" "$warm_anon" "$idle_anon" "$phases" "$cpus"
done
