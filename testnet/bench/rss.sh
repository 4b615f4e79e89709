#!/usr/bin/env bash
# RSS of every devnet node process after job 1,000 and after job 20,000
# (issue #15: it must stay flat, ≤ 1.2×), or at any points given. Tiny
# jobs through the client's API, 64 in flight.
#
#   testnet/bench/rss.sh [BINARY] [FIRST] [SECOND] [MORE...]
#
# e.g. testnet/bench/rss.sh "" 1000 20000 40000 reads a third point, to tell
# what levels off from what grows with the jobs. Ratios are to the first.
#
# SETTLE=SECONDS also reads every process's RSS that long after each batch
# (every point alike), once the nodes' periodic memory trim (--memory-trim,
# every 30 s) has handed idle heap back: a second table, of what the nodes
# keep rather than the collector's headroom at the batch's end.
# RSS=anon reads each process's anonymous memory alone (RssAnon): the
# binary's pages (about 30 MiB a process, shared by all of them and by
# every node of the machine) are counted by the default VmRSS in each.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-}
shift || true
points=("$@")
(( ${#points[@]} == 0 )) && points=(1000 20000)
(( ${#points[@]} >= 2 )) || { echo "rss.sh: give two points or more (jobs done at each), e.g. 1000 20000" >&2; exit 2; }
prev=0
for p in "${points[@]}"; do
  [[ $p =~ ^[0-9]+$ ]] && (( p > prev )) || { echo "rss.sh: points must be whole numbers in ascending order, got ${points[*]}" >&2; exit 2; }
  prev=$p
done
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
# table SUFFIX TITLE: one column a point, the ratio of the last to the first.
table() {
  local files=() p
  for p in "${points[@]}"; do files+=("$dir/rss.$p$1"); done
  local joined; joined=$(cat "${files[0]}")
  for f in "${files[@]:1}"; do joined=$(join <(echo "$joined") "$f"); done
  echo "$joined" | awk -v pts="${points[*]}" -v t="$2" '
    BEGIN { if (t != "") print t; n = split(pts, p, " "); printf "%-16s", "node"; for (i = 1; i <= n; i++) printf " %12s", "RSS@" p[i]; printf " %7s\n", "ratio" }
    { printf "%-16s", $1; for (i = 2; i <= NF; i++) { printf " %8.1f MiB", $i/1024; s[i] += $i }; printf " %6.2fx\n", $NF/$2 }
    END { printf "%-16s", "all"; for (i = 2; i <= n + 1; i++) printf " %8.1f MiB", s[i]/1024; printf " %6.2fx\n", s[n+1]/s[2] }'
}
settle=${SETTLE:-0}
done_jobs=0
for p in "${points[@]}"; do
  run $(( p - done_jobs ))
  done_jobs=$p
  rss > "$dir/rss.$p"
  if (( settle > 0 )); then sleep "$settle"; rss > "$dir/rss.$p.settled"; fi
done
table "" ""
if (( settle > 0 )); then
  table ".settled" "${settle} s after each batch:"
fi
