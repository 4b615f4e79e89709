// Package node composes a running computemesh node from its configuration:
// identity, mesh (host, DHT, GossipSub), the data plane (package content),
// the node's side of the credit ledger (package credits, a credits.Book),
// the provider role (package provider, a provider.Provider, for a node in
// provider mode), the client role (package client, a client.Client every
// node holds) and the local HTTP API. New owns the start-up order and
// Close the shut-down order.
package node
