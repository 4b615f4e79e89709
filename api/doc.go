// Package api is the local HTTP API of a running node and its client. The
// server binds to loopback only and requires the bearer token the node
// writes into its data directory (api.token, mode 0600) next to the address
// it listens on (api.addr), so that commands given the data dir find the
// node and talk to it.
//
//	GET  /v1/info            the node: peer ID, addresses, mode, balance, ... (Info)
//	POST /v1/jobs            submit a job; the response is NDJSON: {"event":...}
//	                         lines as the job progresses, then {"outcome":...}
//	                         (?events=false: the outcome line alone)
//	GET  /v1/jobs            the jobs the node submitted ([]JobSummary)
//	GET  /v1/jobs/{id}       one job's record (JobRecord)
//	GET  /v1/jobs/{id}/events, POST /v1/jobs/{id}/cancel
//	GET  /v1/reputation      the node's view of each provider ([]Reputation)
//	GET  /v1/market          the going rates in the bids heard ([]Rate)
//	GET  /v1/credits         the node's balance and recent receipts (Credits)
//	POST /v1/ledger/verify   a re-check of the node's ledger (ledger.Report)
//	POST /v1/grants          a faucet-signed grant to keep and gossip
//	POST /v1/providers       a search for providers ([]ProviderInfo)
//	POST /v1/challenge       a provider's benchmark challenged (ChallengeResult)
//	POST /v1/gc              a collection of the content store (GCReport)
//	POST /v1/drain           take no new jobs, stop once the running ones end
//	GET  /metrics            Prometheus metrics
//
// Backend, the node's side, and Client return these types: what a node
// answers decodes into them, and a program using the client needs neither
// the node nor libp2p.
package api
