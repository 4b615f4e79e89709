// Package node composes a running computemesh node from its configuration:
// identity, mesh (host, DHT, GossipSub), the provider role (package
// provider, a provider.Provider), the client role (discovery, auction,
// award, failover), the node's side of the credit ledger (package credits,
// a credits.Book) and the local HTTP API. New owns the start-up order and
// Close the shut-down order.
package node
