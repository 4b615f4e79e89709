// Package provider is a node's provider role: what the machine offers (its
// capacity record, signed and kept on the DHT, and the capabilities it
// announces), the executors it runs jobs on, the answers to job requests
// (one admission pipeline, scheduler.Admission: Admit's checks with the
// provider's own around them — a drain, network access, an image present,
// a command allowed, the client's funds), the bids it made (standing until
// their window and grace end, or held as a client's backups), awarded jobs
// behind package award's provider end (an award.Session: the award checked
// against its bid, late binding in the reservations and their queue, the
// run writing to the session's live log, the result, the receipt or a
// claim), benchmark challenges, and a drain.
//
// New makes a provider before the mesh exists: it probes the machine (or
// takes a report), builds the record and starts the executors, so that a
// configuration the machine cannot serve fails the node's start before it
// joins the network. Start then brings it up on the mesh; Close waits for
// its goroutines and stream handlers (internal/owned) and closes its
// executors. A Provider reaches the mesh through the small Mesh interface
// (*mesh.Mesh is one), the credit ledger through Credits (*credits.Book is
// one) and the data plane through a *content.Content.
package provider
