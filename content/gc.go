package content

import (
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/computemesh/computemesh/unixfs"
)

const (
	// OutputsGrant is how long the client may fetch a job's outputs.
	OutputsGrant = 10 * time.Minute
	// OutputsGrant is lengthened for large outputs (OutputsGrantFor) by
	// the time their blocks take at 10 MB/s: the grant is checked at each
	// block, and a fetch slower than that would be cut off partway.
	outputsRate = 10 << 20 // bytes a second
	// OutputsGrace is how long a provider keeps a job's outputs after the
	// client's grant to fetch them has expired.
	OutputsGrace = 10 * time.Minute
)

// OutputsGrantFor is how long the client may fetch outputs of blocks
// blocks (of at most a chunk each, unixfs.ChunkSize): OutputsGrant, and
// their transfer at 10 MB/s.
func OutputsGrantFor(blocks int) time.Duration {
	return OutputsGrant + time.Duration(int64(blocks)*unixfs.ChunkSize*int64(time.Second)/outputsRate)
}

// GC collects the store (see store.Retention). It keeps what is pinned
// (meshnode add), the roots the caller names (what its job records need)
// and, with the manifests among them, the files they name; and what it has
// granted a peer until the grant expires. A provider's outputs go once
// their grant has expired plus OutputsGrace; the rest by age and by size,
// least recently used first. With dryRun nothing is removed.
func (c *Content) GC(roots []string, r store.Retention, dryRun bool) (*store.Report, error) {
	now := c.now()
	pins, err := c.store.Pins()
	if err != nil {
		return nil, err
	}
	roots = append(pins, roots...)
	c.mu.Lock()
	for id, peers := range c.grants {
		for p, until := range peers {
			if !until.After(now) {
				delete(peers, p) // expired: dropped here, or never
			}
		}
		if len(peers) == 0 {
			delete(c.grants, id)
			continue
		}
		roots = append(roots, id)
	}
	for id := range c.inflight {
		roots = append(roots, id)
	}
	held := make(map[string]time.Time, len(c.held))
	for id, until := range c.held {
		held[id] = until
	}
	c.mu.Unlock()
	keep := c.store.Closure(roots)
	expired := func(id string) bool {
		until, ok := held[id]
		return ok && now.After(until)
	}
	rep, err := c.store.Collect(func(id string) bool { return keep[id] }, expired, r, now, dryRun)
	if err != nil || dryRun {
		return rep, err
	}
	c.mu.Lock()
	for id, until := range c.held {
		if cid, err := job.ParseCID(id); err != nil || (now.After(until) && !c.store.Has(cid)) {
			delete(c.held, id)
		}
	}
	for _, d := range rep.Freed {
		delete(c.public, d.CID) // gone: no longer served
		delete(c.publicRoots, d.CID)
	}
	for r := range c.publicRoots {
		if !c.public[r] {
			delete(c.publicRoots, r) // its root went
		}
	}
	c.mu.Unlock()
	return rep, nil
}
