// Package api is the local HTTP API of a running node and its client. The
// server binds to loopback only and requires the bearer token the node
// writes into its data directory (api.token, mode 0600) next to the address
// it listens on (api.addr), so that commands given the data dir find the
// node and talk to it.
//
//	GET  /v1/info   the node: peer ID, addresses, mode, balance, ...
//	POST /v1/jobs   submit a job; the response is NDJSON: {"event":...}
//	                lines as the job progresses, then {"outcome":...}
//	GET  /metrics   Prometheus metrics
package api
