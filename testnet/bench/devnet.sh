#!/usr/bin/env bash
# Throughput of the user's path: a meshnode devnet (2 bootstrap nodes,
# 6 providers, a client), tiny jobs through the client's API with
# 'meshnode submit --repeat'. Prints the submit summary and the CPU time
# (utime+stime) of every node process and of the submit process per job.
#
#   testnet/bench/devnet.sh [BINARY] [JOBS] [IN-FLIGHT] [EXTRA SUBMIT FLAGS...]
#
# BINARY defaults to a fresh build of ./cmd/meshnode. Only 127.0.0.1 is used.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-}
jobs=${2:-2000}
par=${3:-64}
shift $(( $# > 3 ? 3 : $# ))
if [[ -z "$bin" ]]; then
  bin=$(mktemp -d)/meshnode
  (cd "$root" && go build -o "$bin" ./cmd/meshnode)
fi
wasm=$root/examples/tiny/tiny.wasm
dir=$(mktemp -d /tmp/devnet-bench.XXXXXX)
"$bin" devnet --dir "$dir/net" >"$dir/devnet.log" 2>&1 &
devnet=$!
trap 'kill $devnet 2>/dev/null; wait $devnet 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 240); do
  grep -q '^ready' "$dir/devnet.log" && break
  kill -0 $devnet 2>/dev/null || { cat "$dir/devnet.log"; exit 1; }
  sleep 0.5
done
grep -q '^ready' "$dir/devnet.log" || { echo "devnet not ready"; cat "$dir/devnet.log"; exit 1; }

# cpu prints one line per devnet node process: its data dir's name and its
# utime+stime in clock ticks.
cpu() {
  local pid
  for pid in $(pgrep -f -- "^$bin start"); do
    [[ -r /proc/$pid/stat ]] || continue
    local name; name=$(tr '\0' '\n' < /proc/$pid/environ | sed -n 's/^MESHNODE_DATA_DIR=//p')
    local f; f=$(sed 's/^.*) //' /proc/$pid/stat)
    set -- $f
    echo "$(basename "$name") $(( ${12} + ${13} ))"
  done
}
"$bin" submit --data-dir "$dir/net/client" --wasm "$wasm" --repeat 200 --parallel 16 "$@" >/dev/null 2>&1 || true
cpu > "$dir/cpu.before"
hz=$(getconf CLK_TCK)
/usr/bin/time -f '%U %S' -o "$dir/submit.time" \
  "$bin" submit --data-dir "$dir/net/client" --wasm "$wasm" --repeat "$jobs" --parallel "$par" "$@" >/dev/null 2>"$dir/submit.err" || true
cpu > "$dir/cpu.after"
grep -v '^job ' "$dir/submit.err" | tail -3
read -r su ss < "$dir/submit.time"
join <(sort "$dir/cpu.before") <(sort "$dir/cpu.after") | awk -v n="$jobs" -v hz="$hz" '{ printf "  %-16s %6.2f ms/job\n", $1, 1000*($3-$2)/hz/n }'
d=$(join <(sort "$dir/cpu.before") <(sort "$dir/cpu.after") | awk '{ s += $3 - $2 } END { print s }')
awk -v n="$jobs" -v d="$d" -v hz="$hz" -v su="$su" -v ss="$ss" 'BEGIN {
  node = d / hz; sub_ = su + ss
  printf "node CPU %.2f s (%.2f ms/job), submit CPU %.2f s (%.2f ms/job), total %.2f ms/job\n", node, 1000*node/n, sub_, 1000*sub_/n, 1000*(node+sub_)/n
}'
if [[ -n "${KEEP_PROFILES:-}" ]]; then
  kill -INT $devnet; wait $devnet 2>/dev/null || true
  mkdir -p "$KEEP_PROFILES"; (cd "$dir/net" && find . -name cpu.pprof | while read -r p; do cp "$p" "$KEEP_PROFILES/$(basename "$(dirname "$p")").pprof"; done)
fi
