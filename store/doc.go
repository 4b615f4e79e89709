// Package store is a node's content-addressed store: blobs kept as files
// under <data-dir>/blobs, named by their CID (v1, raw, sha2-256) and
// verified against it when read, and directory manifests that name a tree
// of such blobs by one CID (v1, json codec). Writes go to a temporary file
// that is synced and renamed, then the directory synced (package
// atomicfile), so a crash leaves either the whole blob or nothing.
package store
