#!/usr/bin/env bash
# Discovery under churn (issue #15): on a devnet, kill -9 the provider that
# wins every cheap auction, then time the jobs after it through the CLI
# (`meshnode submit`, the whole process). The first one pays for the
# departed provider; the goal is a few hundred ms, within 2 s.
#
#   testnet/bench/churn.sh [BINARY] [JOBS-AFTER]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-}
after=${2:-10}
dir=$(mktemp -d /tmp/churn-bench.XXXXXX)
if [[ -z "$bin" ]]; then
  bin=$dir/meshnode
  (cd "$root" && go build -o "$bin" ./cmd/meshnode)
fi
wasm=$root/examples/tiny/tiny.wasm
"$bin" devnet --dir "$dir/net" >"$dir/devnet.log" 2>&1 &
devnet=$!
trap 'kill $devnet 2>/dev/null; wait $devnet 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 240); do
  grep -q '^ready' "$dir/devnet.log" && break
  sleep 0.5
done
grep -q '^ready' "$dir/devnet.log" || { echo "devnet not ready"; exit 1; }
submit() { "$bin" submit --data-dir "$dir/net/client" --wasm "$wasm" --json; }
timed() {
  local t0 t1 out
  t0=$(date +%s%N)
  out=$(submit)
  t1=$(date +%s%N)
  printf '%s %7.1f ms  %s\n' "$1" "$(( (t1 - t0) / 1000 ))e-3" "$(sed -n 's/.*"provider":"\([^"]*\)".*/\1/p' <<<"$out" | head -1 | cut -c1-16)…"
}
for i in $(seq 1 20); do submit >/dev/null; done
winner=$(submit | sed -n 's/.*"provider":"\([^"]*\)".*/\1/p' | head -1)
timed "before   "
pid=""
for p in $(pgrep -f -- "^$bin start"); do
  d=$(tr '\0' '\n' < /proc/$p/environ | sed -n 's/^MESHNODE_DATA_DIR=//p')
  if [[ "$("$bin" status --data-dir "$d" --json 2>/dev/null | sed -n 's/.*"peer_id":"\([^"]*\)".*/\1/p' | head -1)" == "$winner" ]]; then
    pid=$p; echo "kill -9 $(basename "$d") (pid $p, ${winner:0:16}…)"; break
  fi
done
[[ -n "$pid" ]] || { echo "winner $winner not found among the node processes"; exit 1; }
kill -9 "$pid"
for i in $(seq 1 "$after"); do timed "after #$i"; done
