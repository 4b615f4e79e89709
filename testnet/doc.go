// Package testnet drives computemesh's multi-node testnet and breaks it on
// purpose: the topology (2 bootstrap nodes with fixed test identities and
// relay service, 6 providers across 4 regions, 1 client), the Cluster it
// runs as (docker compose, through testnet/runner and run.sh, or local
// processes, through meshnode devnet) and the scenarios — smoke, kill,
// partition, latency, bootstrap-loss — each of which returns a Check: PASS
// or FAIL with the figure it checked.
package testnet
