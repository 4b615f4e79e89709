// Package unixfs turns files and directory trees into UnixFS DAGs in a
// blockstore — the format every IPFS tool reads — and reads them back,
// block by block.
//
// The DAGs are those of kubo's `ipfs add --cid-version 1 --raw-leaves`
// with its default import settings (pinned in testdata/kubo.json, kubo
// v0.43.1): fixed chunks of 256 KiB as raw leaves, a balanced layout of at
// most 174 links a node, CIDv1 with SHA2-256, and directories that become
// HAMT shards (fanout 256) once their links' estimated size passes 256
// KiB. The same bytes give the same CID here and there (tests compare with
// CIDs kubo computed). The building blocks are boxo's (the IPFS
// ecosystem's Go libraries): its chunker, balanced importer, UnixFS
// directories and DAG reader; nothing of the format is our own.
//
// Memory stays bounded whatever the size: a file is read and written a
// chunk at a time, and read back through a DAG reader that holds one
// path of the tree.
package unixfs
