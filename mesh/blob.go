package mesh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxBlob bounds a blob (a module) exchanged over the blob protocol.
const MaxBlob = 64 << 20

// BlobAccess decides whether a peer may fetch a blob from this node.
type BlobAccess func(p peer.ID, c string) bool

// ErrBlobTooLarge means a peer announced a blob larger than the fetch allows.
var ErrBlobTooLarge = errors.New("blob over its size limit")

type blobReq struct {
	CID string `json:"cid"`
}

// Validate checks the request.
func (r *blobReq) Validate() error {
	_, err := job.ParseCID(r.CID)
	return err
}

type blobResp struct {
	Size  int64  `json:"size"`
	Error string `json:"error,omitempty"`
}

// ServeBlobs answers the blob protocol: a peer asks for a CID and gets its
// bytes, when get has them and allow lets that peer have them. get may
// hand a func that takes the bytes back once they are sent (a buffer to
// use again: a node serving gigabytes a block at a time need not allocate
// each).
func (m *Mesh) ServeBlobs(get func(c string) (b []byte, release func(), ok bool), allow BlobAccess) {
	m.host.SetStreamHandler(m.Protocol("blob"), func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(time.Minute))
		var req blobReq
		if err := ReadMsg(bufio.NewReader(s), 1024, &req); err != nil {
			_ = s.Reset()
			return
		}
		// Asked first, so that a peer without a grant costs no read.
		if !allow(s.Conn().RemotePeer(), req.CID) {
			_ = WriteMsg(s, blobResp{Error: "not found: " + req.CID})
			return
		}
		b, release, ok := get(req.CID)
		if !ok {
			_ = WriteMsg(s, blobResp{Error: "not found: " + req.CID})
			return
		}
		if release != nil {
			defer release()
		}
		if err := WriteMsg(s, blobResp{Size: int64(len(b))}); err != nil {
			return
		}
		_, _ = s.Write(b)
	})
}

// FetchBlob fetches a blob by CID from p and checks it against the CID. max
// bounds its size (0 or more than MaxBlob: MaxBlob): give the size a
// manifest declares for it, or the most the caller will hold. A size over it
// is refused before any byte of the blob is read, and nothing past the size
// the peer announced is read.
func (m *Mesh) FetchBlob(ctx context.Context, p peer.ID, c string, max int64) ([]byte, error) {
	want, err := job.ParseCID(c)
	if err != nil {
		return nil, err
	}
	if max <= 0 || max > MaxBlob {
		max = MaxBlob
	}
	s, err := m.host.NewStream(AllowRelayed(ctx), p, m.Protocol("blob"))
	if err != nil {
		return nil, errorf("fetching %s from %s: %w", c, p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	// A cancelled fetch ends at once, whatever the peer does (a stalled
	// peer would hold a read without a deadline for ever).
	defer context.AfterFunc(ctx, func() { _ = s.Reset() })()
	if err := WriteMsg(s, blobReq{CID: c}); err != nil {
		return nil, errorf("fetching %s from %s: %w", c, p, err)
	}
	r := bufio.NewReader(s)
	var resp blobResp
	if err := ReadMsg(r, 4096, &resp); err != nil {
		return nil, errorf("fetching %s from %s: %w", c, p, err)
	}
	if resp.Error != "" {
		return nil, errorf("fetching %s from %s: %s", c, p, resp.Error)
	}
	if resp.Size < 0 || resp.Size > max {
		_ = s.Reset()
		return nil, errorf("fetching %s from %s: %w: it announced %d bytes, over the limit of %d", c, p, ErrBlobTooLarge, resp.Size, max)
	}
	b := make([]byte, resp.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, errorf("fetching %s from %s: %w", c, p, err)
	}
	if got, err := want.Prefix().Sum(b); err != nil || !got.Equals(want) {
		return nil, errorf("fetching %s from %s: the bytes do not match the CID (they hash to %s)", c, p, got)
	}
	return b, nil
}

// BlobCache is a bounded in-memory store of blobs by CID, evicting the
// least recently used. Safe for concurrent use.
type BlobCache struct {
	mu    sync.Mutex
	max   int
	size  int
	items map[string]*blobItem
	tick  uint64
}

type blobItem struct {
	b    []byte
	used uint64
	pins int
}

// NewBlobCache holds up to max bytes of blobs. Pinned blobs count towards
// max but are never evicted; when pinned blobs alone exceed it, the cache
// holds only them (and the newest blob until the next Put).
func NewBlobCache(max int) *BlobCache {
	return &BlobCache{max: max, items: map[string]*blobItem{}}
}

// Get returns a blob.
func (c *BlobCache) Get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.tick++
	it.used = c.tick
	return it.b, true
}

// Put stores a blob; with pin it is kept until Unpin.
func (c *BlobCache) Put(k string, b []byte, pin bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	it, ok := c.items[k]
	if !ok {
		it = &blobItem{b: b}
		c.items[k] = it
		c.size += len(b)
	}
	it.used = c.tick
	if pin {
		it.pins++
	}
	for c.size > c.max {
		var oldest string
		var at uint64 = 1<<64 - 1
		for k, it := range c.items {
			if it.pins == 0 && it.used < at {
				oldest, at = k, it.used
			}
		}
		if oldest == "" {
			return
		}
		c.size -= len(c.items[oldest].b)
		delete(c.items, oldest)
	}
}

// Unpin releases one pin of a blob.
func (c *BlobCache) Unpin(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[k]; ok && it.pins > 0 {
		it.pins--
	}
}

// String describes the cache.
func (c *BlobCache) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d blobs, %d bytes", len(c.items), c.size)
}
