#!/usr/bin/env bash
# computemesh's side of the side-by-side with Bacalhau's devstack (issue
# #15), with the same modules (../shared/bench): a plain GOOS=wasip1 Go hello
# and a 223-byte WASI module with a name section. A devnet of --nodes
# providers (default 3, as the devstack's 3 compute nodes), everything on
# 127.0.0.1:
#   - CLI submit → result, the whole `meshnode submit` process, median of 10
#     after 3 warm-up jobs, for each module;
#   - 200 tiny jobs, 16 in flight, through the client's API (`submit --repeat`);
#   - RSS of the node processes after those ~250 jobs.
#
#   testnet/bench/sidebyside.sh [BINARY] [BENCH-DIR] [PROVIDERS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-}
bench=${2:-$root/../shared/bench}
providers=${3:-3}
dir=$(mktemp -d /tmp/sidebyside.XXXXXX)
if [[ -z "$bin" ]]; then
  bin=$dir/meshnode
  (cd "$root" && go build -o "$bin" ./cmd/meshnode)
fi
(cd "$bench/hello" && GOOS=wasip1 GOARCH=wasm go build -o "$dir/hello.wasm" .)
tiny=$bench/tiny.wasm
"$bin" devnet --nodes "$providers" --dir "$dir/net" >"$dir/devnet.log" 2>&1 &
devnet=$!
trap 'kill $devnet 2>/dev/null; wait $devnet 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 240); do
  grep -q '^ready' "$dir/devnet.log" && break
  kill -0 $devnet 2>/dev/null || { cat "$dir/devnet.log"; exit 1; }
  sleep 0.5
done
grep -q '^ready' "$dir/devnet.log" || { echo "devnet not ready"; exit 1; }
submit() { "$bin" submit --data-dir "$dir/net/client" "$@"; }

# median prints the median of 10 timed `meshnode submit` runs of a module.
median() {
  local mod=$1 i
  for i in 1 2 3; do submit --wasm "$mod" >/dev/null 2>&1; done
  for i in $(seq 1 10); do
    local t0 t1
    t0=$(date +%s%N)
    submit --wasm "$mod" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f ms (min %.1f, max %.1f)\n", (a[5] + a[6]) / 2000, a[1] / 1000, a[10] / 1000 }'
}
echo "Go WASI hello ($(stat -c %s "$dir/hello.wasm") bytes), CLI submit → result, median of 10: $(median "$dir/hello.wasm")"
echo "$(stat -c %s "$tiny")-byte WASI hello, same: $(median "$tiny")"
submit --wasm "$tiny" --repeat 200 --parallel 16 2>&1 >/dev/null | grep -v '^job ' | tail -1
rss=0
for pid in $(pgrep -f -- "^$bin start"); do
  kb=$(awk '/^VmRSS:/ { print $2 }' /proc/$pid/status)
  rss=$(( rss + kb ))
done
echo "RSS of the $(pgrep -f -- "^$bin start" | wc -l) node processes after ~250 jobs: $(( rss / 1024 )) MiB"
