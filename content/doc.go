// Package content is a node's data plane: its store of blobs by CID, which
// peers may fetch which of them and until when (grants), bounded fetches of
// files and trees from peers (each blob verified against its CID, a tree
// refused before any file when it is over the fetch's budget), the staging
// of a job's inputs and the collection of its outputs, and the store's
// garbage collection. Both roles use it: a client grants its providers its
// jobs' modules and inputs and fetches their outputs; a provider fetches
// inputs, stages them, collects outputs and grants its client them.
package content
