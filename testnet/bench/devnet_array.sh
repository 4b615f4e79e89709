#!/usr/bin/env bash
# Throughput of job arrays on the user's path: a meshnode devnet (2
# bootstrap nodes, 6 providers, a client), tiny WASM tasks through the
# client's API with 'meshnode submit --count N', one submission after
# another. Prints each array's summary line (tasks/s) and the CPU time
# (utime+stime) of every node process and of the submit processes per task.
#
#   testnet/bench/devnet_array.sh [BINARY] [TASKS] [ARRAYS] [EXTRA SUBMIT FLAGS...]
#
# BINARY defaults to a fresh build of ./cmd/meshnode. Only 127.0.0.1 is used.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-}
tasks=${2:-10000}
arrays=${3:-5}
shift $(( $# > 3 ? 3 : $# ))
if [[ -z "$bin" ]]; then
  bin=$(mktemp -d)/meshnode
  (cd "$root" && go build -o "$bin" ./cmd/meshnode)
fi
wasm=$root/examples/tiny/tiny.wasm
dir=$(mktemp -d /tmp/devnet-array.XXXXXX)
"$bin" devnet --dir "$dir/net" >"$dir/devnet.log" 2>&1 &
devnet=$!
trap 'kill $devnet 2>/dev/null; wait $devnet 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 240); do
  grep -q '^ready' "$dir/devnet.log" && break
  kill -0 $devnet 2>/dev/null || { cat "$dir/devnet.log"; exit 1; }
  sleep 0.5
done
grep -q '^ready' "$dir/devnet.log" || { echo "devnet not ready"; cat "$dir/devnet.log"; exit 1; }

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
# A warm-up array: modules cached, connections made.
"$bin" submit --data-dir "$dir/net/client" --wasm "$wasm" --count 200 "$@" >/dev/null 2>&1 || true
cpu > "$dir/cpu.before"
hz=$(getconf CLK_TCK)
su=0; ss=0
for i in $(seq 1 "$arrays"); do
  /usr/bin/time -f '%U %S' -o "$dir/submit.time" \
    "$bin" submit --data-dir "$dir/net/client" --wasm "$wasm" --count "$tasks" "$@" >/dev/null 2>"$dir/submit.err" || true
  grep '^job ' "$dir/submit.err" | tail -1
  read -r u s < "$dir/submit.time"
  su=$(awk -v a="$su" -v b="$u" 'BEGIN { print a + b }'); ss=$(awk -v a="$ss" -v b="$s" 'BEGIN { print a + b }')
done
cpu > "$dir/cpu.after"
n=$(( tasks * arrays ))
join <(sort "$dir/cpu.before") <(sort "$dir/cpu.after") | awk -v n="$n" -v hz="$hz" '{ printf "  %-16s %7.3f ms/task\n", $1, 1000*($3-$2)/hz/n }'
d=$(join <(sort "$dir/cpu.before") <(sort "$dir/cpu.after") | awk '{ s += $3 - $2 } END { print s }')
awk -v n="$n" -v d="$d" -v hz="$hz" -v su="$su" -v ss="$ss" 'BEGIN {
  node = d / hz; sub_ = su + ss
  printf "node CPU %.2f s (%.3f ms/task), submit CPU %.2f s (%.3f ms/task), total %.3f ms/task\n", node, 1000*node/n, sub_, 1000*sub_/n, 1000*(node+sub_)/n
}'
