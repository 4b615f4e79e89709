package api

import "time"

// GCRequest is the body of POST /v1/gc.
type GCRequest struct {
	DryRun bool `json:"dry_run,omitempty"`
}

// GCReport is what a collection of a node's content store found and freed
// (POST /v1/gc). It has the fields of the store's report, which the node
// converts: the store's package brings in content addressing the API's
// client does not need.
type GCReport struct {
	DryRun     bool        `json:"dry_run"`
	Blobs      int         `json:"blobs"` // before the collection
	Bytes      int64       `json:"bytes"`
	Protected  int         `json:"protected"` // pinned or referenced
	Freed      []FreedBlob `json:"freed"`
	FreedBytes int64       `json:"freed_bytes"`
	TempFiles  int         `json:"temp_files"` // leftovers of interrupted writes removed
	// OverMax says the store is still over its size limit: what is left
	// is protected or in use.
	OverMax bool `json:"over_max,omitempty"`
}

// FreedBlob is a blob a collection dropped (or would drop, in a dry run).
type FreedBlob struct {
	CID    string    `json:"cid"`
	Size   int64     `json:"size"`
	Used   time.Time `json:"used"`   // last stored or read
	Reason string    `json:"reason"` // "expired", "age" or "size"
}

// ContentRequest is the body of POST /v1/content/fetch.
type ContentRequest struct {
	CID string `json:"cid"`
}

// ContentStat is what a file or tree the node fetched amounts to (POST
// /v1/content/fetch).
type ContentStat struct {
	CID    string `json:"cid"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	Blocks int    `json:"blocks"`
}
