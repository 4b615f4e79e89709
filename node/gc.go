package node

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/client"
	"github.com/computemesh/computemesh/store"
)

// DefaultGCInterval is how often a node collects its store.
const DefaultGCInterval = 10 * time.Minute

// retention is the node's store retention: its configuration over the
// store's defaults.
func (c *Config) retention() store.Retention {
	r := store.DefaultRetention()
	if c.StoreMaxBytes > 0 {
		r.MaxBytes = c.StoreMaxBytes
	}
	if c.StoreRetention > 0 {
		r.MaxAge = c.StoreRetention
	}
	return r
}

// GC collects the node's content store (see content.Content.GC): it keeps
// what is pinned (meshnode add), what its job records name (the outputs of
// the last FinishedJobsKept finished jobs; the inputs and stored module of
// the unfinished ones) and what it has granted a peer until the grant
// expires; a provider's outputs go once their grant has expired plus
// content.OutputsGrace; the rest by age (Config.StoreRetention) and by size
// (Config.StoreMaxBytes), least recently used first. With dryRun nothing is
// removed.
func (n *Node) GC(dryRun bool) (*store.Report, error) {
	var roots []string
	if n.client != nil {
		roots = n.client.Refs()
	}
	rep, err := n.content.GC(roots, n.cfg.retention(), dryRun)
	if err != nil || dryRun {
		return rep, err
	}
	if len(rep.Freed) > 0 || rep.TempFiles > 0 {
		log.Infow("store collection: freed", "blobs", len(rep.Freed), "bytes", rep.FreedBytes, "temp_files", rep.TempFiles)
	}
	if rep.OverMax {
		log.Warnw("store: over its size limit with what is pinned, referenced or in use", "max_bytes", n.cfg.retention().MaxBytes)
	}
	return rep, nil
}

// collectGarbage collects the store every Config.GCInterval until the node
// closes.
func (n *Node) collectGarbage() {
	every := n.cfg.GCInterval
	if every == 0 {
		every = DefaultGCInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			if _, err := n.GC(false); err != nil {
				log.Warnw("store collection", "err", err)
			}
		}
	}
}

// GCDataDir collects the store of a data dir on which no node runs, as the
// node would (see Node.GC) but for grants, which only a running node knows:
// a provider's outputs go by age and size. r's zero fields take the store's
// defaults. It reports as the API does.
func GCDataDir(dataDir string, r store.Retention, dryRun bool) (*api.GCReport, error) {
	s, err := store.Open(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return nil, err
	}
	roots, err := s.Pins()
	if err != nil {
		return nil, err
	}
	refs, err := client.RecordRefs(dataDir)
	if err != nil {
		// What an unreadable record names cannot be known: keep everything.
		return nil, fmt.Errorf("not collecting: %w", err)
	}
	roots = append(roots, refs...)
	keep := s.Closure(roots)
	cfg := Config{StoreMaxBytes: r.MaxBytes, StoreRetention: r.MaxAge}
	rep, err := s.Collect(func(c string) bool { return keep[c] }, func(string) bool { return false }, cfg.retention(), time.Now(), dryRun)
	return gcReport(rep), err
}

// gcReport is a store collection's report as the API gives it (nil for
// none).
func gcReport(r *store.Report) *api.GCReport {
	if r == nil {
		return nil
	}
	out := &api.GCReport{DryRun: r.DryRun, Blobs: r.Blobs, Bytes: r.Bytes, Protected: r.Protected,
		FreedBytes: r.FreedBytes, TempFiles: r.TempFiles, OverMax: r.OverMax}
	if r.Freed != nil {
		out.Freed = make([]api.FreedBlob, len(r.Freed))
	}
	for i, d := range r.Freed {
		out.Freed[i] = api.FreedBlob{CID: d.CID, Size: d.Size, Used: d.Used, Reason: string(d.Reason)}
	}
	return out
}
