package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// EntryType is the kind of an entry of a directory.
type EntryType string

// Entry types.
const (
	EntryFile EntryType = "file"
	EntryDir  EntryType = "dir"
)

// ContentEntry is one entry of a directory in the node's store.
type ContentEntry struct {
	Name string    `json:"name"`
	CID  string    `json:"cid"`
	Type EntryType `json:"type"`
	// Size is a file's size in bytes, or the size of a directory's blocks.
	Size int64 `json:"size"`
}

// ContentListing is a directory of the node's store (GET
// /v1/content/{cid}[/{path}] naming a directory).
type ContentListing struct {
	CID     string         `json:"cid"`
	Entries []ContentEntry `json:"entries"`
}

// Content is what a CID and a path beneath it name in the node's store:
// a directory's listing, or a file to read (and close).
type Content struct {
	Listing *ContentListing
	File    io.ReadSeekCloser
}

// contentHandler serves GET /v1/content/{cid} and /v1/content/{cid}/{path...}:
// a directory as a ContentListing, a file's bytes as a download. The
// bytes are whatever a job wrote: they are never served as something a
// browser would render or run on the API's origin (the dashboard's):
// octet-stream, no sniffing, an attachment, in a sandbox.
func contentHandler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("path")
		c, err := b.Content(r.Context(), r.PathValue("cid"), p)
		if err != nil {
			errorOf(w, err, CodeUpstream)
			return
		}
		if c.Listing != nil {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(c.Listing)
			return
		}
		defer c.File.Close()
		name := path.Base("/" + p)
		if name == "/" {
			name = r.PathValue("cid")
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		http.ServeContent(w, r, "", time.Time{}, c.File)
	}
}

// contentPath is the API path of cid's entry at p.
func contentPath(cid, p string) string {
	out := "/v1/content/" + url.PathEscape(cid)
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name != "" {
			out += "/" + url.PathEscape(name)
		}
	}
	return out
}

// Content returns what path p beneath cid names in the node's store (""
// for cid itself): a directory's listing, or a file's reader, which the
// caller closes (its Seek is not supported: it reads once).
func (c *Client) Content(ctx context.Context, cid, p string) (*Content, error) {
	resp, err := c.do(ctx, http.MethodGet, contentPath(cid, p), nil)
	if err != nil {
		return nil, err
	}
	if err := expect(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.Header.Get("Content-Type") == "application/octet-stream" {
		return &Content{File: onceReader{resp.Body}}, nil
	}
	defer resp.Body.Close()
	var l ContentListing
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&l); err != nil {
		return nil, fmt.Errorf("api: decoding the listing of %s: %w", contentPath(cid, p), err)
	}
	return &Content{Listing: &l}, nil
}

// onceReader is a response body as an io.ReadSeekCloser that cannot seek.
type onceReader struct{ io.ReadCloser }

func (onceReader) Seek(int64, int) (int64, error) {
	return 0, fmt.Errorf("api: a downloaded file cannot seek")
}

// List returns the directory at path p beneath cid in the node's store
// ("" for cid itself).
func (c *Client) List(ctx context.Context, cid, p string) (*ContentListing, error) {
	v, err := c.Content(ctx, cid, p)
	if err != nil {
		return nil, err
	}
	if v.Listing == nil {
		v.File.Close()
		return nil, fmt.Errorf("api: %s is a file, not a directory", contentPath(cid, p))
	}
	return v.Listing, nil
}

// Open returns a reader of the file at path p beneath cid in the node's
// store ("" for cid itself), which the caller closes.
func (c *Client) Open(ctx context.Context, cid, p string) (io.ReadCloser, error) {
	v, err := c.Content(ctx, cid, p)
	if err != nil {
		return nil, err
	}
	if v.File == nil {
		return nil, fmt.Errorf("api: %s is a directory: List it", contentPath(cid, p))
	}
	return v.File, nil
}
