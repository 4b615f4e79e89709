// Package client is the client role of a computemesh node: it places jobs
// on the mesh and sees them through.
//
// A Client owns what a node does as a client: submissions (Submit), the
// auctions (candidates from the DHT and the jobs topic, the gossiped
// request, the bids, their evaluation), awards through package award's
// client end with failover down the ranking and replicas, holding the
// backups' bids, the job registry (Cancel, Events), the job records in
// the data dir and their resumption after a restart (Jobs, Job, Resume;
// ReadJobs and ReadJob for a data dir no node runs on), what it has seen
// of providers (Reputations, Challenge), the going rates in the bids it
// hears (Market) and provider discovery (FindProviders).
//
// Its goroutines are its own (internal/owned): Close waits for them, then
// closes the job records and saves the reputations. A Client reaches the
// mesh through the small Mesh interface; *mesh.Mesh satisfies it. The
// node composes it with the content store (package content) and its side
// of the credit ledger (package credits).
package client
