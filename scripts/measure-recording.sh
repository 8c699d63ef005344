#!/usr/bin/env bash
# What recording costs: the route workload (default 300,000 routes, pipelined)
# with syncd recording to a file and without, three runs each, alternating, on a
# private redis-server. Prints each run's requests/s and the medians' ratio.
# Usage: scripts/measure-recording.sh [ROUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
routes=${1:-300000}
cargo build --quiet --release -p sairing-syncd -p sairing-orchagent
bin=target/release
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d /dev/shm/sairing-rec.XXXXXX)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no --loglevel warning >/dev/null &
rpid=$!
trap 'set +e; kill $rpid 2>/dev/null; pkill -f "syncd --channel $work" 2>/dev/null; rm -rf "$work"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
run() { # name extra-args...
  local name=$1; shift
  redis-cli -p "$port" -n 1 flushdb >/dev/null
  local d="$work/$name"
  "$bin/syncd" --channel "$d" --create --capacity $((256 << 20)) --redis "redis://127.0.0.1:$port/1" "$@" > "$d.log" 2>&1 &
  local spid=$!
  until grep -q ready "$d.log" 2>/dev/null; do sleep 0.01; done
  "$bin/orchagent" routes --count "$routes" --channel "$d" --mode pipelined --quiet --json \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["requests_per_s"]))'
  kill -TERM "$spid"; wait "$spid"
  rm -rf "$d" "$d".*
}
off=(); on=()
for i in 1 2 3; do
  off+=("$(run off$i)")
  on+=("$(run on$i --record "$work/rec$i.rec")")
  ls -l "$work/rec$i.rec" | awk '{print "recording: " $5 " bytes"}'
  rm -f "$work/rec$i.rec"*
done
echo "recording off: ${off[*]} requests/s"
echo "recording on:  ${on[*]} requests/s"
python3 -c "
import statistics,sys
off=[int(x) for x in sys.argv[1].split()]; on=[int(x) for x in sys.argv[2].split()]
a,b=statistics.median(off),statistics.median(on)
print(f'median off {a:.0f}/s, on {b:.0f}/s: recording costs {100*(a-b)/a:.1f}% of throughput')
" "${off[*]}" "${on[*]}"
