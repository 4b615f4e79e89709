#!/usr/bin/env bash
# RSS of every devnet node process after job 1,000 and after job 20,000
# (issue #15: it must stay flat, ≤ 1.2×). Tiny jobs through the client's API,
# 64 in flight.
#
#   testnet/bench/rss.sh [BINARY] [FIRST] [LAST]
#
# SETTLE=SECONDS also reads every process's RSS that long after each batch
# (both points alike), once the nodes' periodic memory trim (--memory-trim,
# every 30 s) has handed idle heap back: a second table, of what the nodes
# keep rather than the collector's headroom at the batch's end.
# RSS=anon reads each process's anonymous memory alone (RssAnon): the
# binary's pages (about 30 MiB a process, shared by all of them and by
# every node of the machine) are counted by the default VmRSS in each.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-}
first=${2:-1000}
last=${3:-20000}
dir=$(mktemp -d /tmp/rss-bench.XXXXXX)
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
field=VmRSS
[[ ${RSS:-} == anon ]] && field=RssAnon
rss() {
  local pid
  for pid in $(pgrep -f -- "^$bin start"); do
    local name; name=$(tr '\0' '\n' < /proc/$pid/environ | sed -n 's/^MESHNODE_DATA_DIR=//p')
    echo "$(basename "$name") $(awk -v f="$field" '$1 == f":" { print $2 }' /proc/$pid/status)"
  done | sort
}
run() { "$bin" submit --data-dir "$dir/net/client" --wasm "$wasm" --repeat "$1" --parallel 64 2>&1 >/dev/null | grep -v '^job ' | tail -1; }
table() {
  join "$1" "$2" | awk -v a="$first" -v b="$last" -v t="$3" '
    BEGIN { if (t != "") print t; printf "%-16s %12s %12s %7s\n", "node", "RSS@" a, "RSS@" b, "ratio" }
    { printf "%-16s %9.1f MiB %9.1f MiB %6.2fx\n", $1, $2/1024, $3/1024, $3/$2; s1 += $2; s2 += $3 }
    END { printf "%-16s %9.1f MiB %9.1f MiB %6.2fx\n", "all", s1/1024, s2/1024, s2/s1 }'
}
settle=${SETTLE:-0}
run "$first"
rss > "$dir/rss.first"
if (( settle > 0 )); then sleep "$settle"; rss > "$dir/rss.first.settled"; fi
run $(( last - first ))
rss > "$dir/rss.last"
if (( settle > 0 )); then sleep "$settle"; rss > "$dir/rss.last.settled"; fi
table "$dir/rss.first" "$dir/rss.last" ""
if (( settle > 0 )); then
  table "$dir/rss.first.settled" "$dir/rss.last.settled" "${settle} s after each batch:"
fi
