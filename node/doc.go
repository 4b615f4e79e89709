// Package node composes a running computemesh node from its configuration:
// identity, mesh (host, DHT, GossipSub), the provider role (admission, bids,
// awards, the WASM executor), the client role (package client, a
// client.Client every node holds: discovery, auction, award, failover,
// job records), the node's side of the credit ledger (package credits, a
// credits.Book) and the local HTTP API. New owns the start-up order and
// Close the shut-down order.
package node
