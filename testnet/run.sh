#!/usr/bin/env bash
# The computemesh testnet: 2 bootstrap nodes, 6 providers, 1 client in
# docker compose, and scenarios that break it on purpose.
#   testnet/run.sh build|up|down|status|smoke|kill|partition|latency|bootstrap-loss|nat|all
# Accepts `docker compose` or `docker-compose`; needs Go (the runner and the
# static meshnode are built from this checkout) and, for nat, root (iptables).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "testnet: no Docker daemon answers (docker info failed)" >&2
  exit 1
fi
mkdir -p testnet/out
go build -o testnet/out/runner ./testnet/runner
exec testnet/out/runner "$@"
