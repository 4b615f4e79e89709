package client

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/credits"
	"github.com/computemesh/computemesh/internal/owned"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/store"
)

// Client is a node's client role. Its methods are safe for concurrent use.
type Client struct {
	cfg     Config
	mesh    Mesh
	content *content.Content
	store   *store.Store
	credits *credits.Book
	blobs   *mesh.BlobCache // modules of this client's jobs, pinned while in flight
	metrics Metrics
	spend   func(job.Credits)
	publish func(root string, blocks []string) // Options.Publish
	// bandwidth is what the client measured of its providers' transfer
	// rates (data locality).
	bandwidth bandwidths
	ownScore  func() float64
	now       func() time.Time
	log       Logger
	slots     chan struct{} // one per auction in flight (MaxAuctions)

	mu       sync.Mutex
	auctions map[string]*pending
	cands    candidates
	jobs     jobRegistry
	// journal keeps the records of this client's jobs under the data dir
	// (nil without one); resumable are the unfinished jobs found at start.
	journal   *journal
	resumable []string
	reps      *reputations // what this node has seen of providers
	backlog   *backlog     // what it awarded and has not seen finish
	market    marketWatch  // rates in the bids this node has heard

	ctx    context.Context
	cancel context.CancelFunc
	own    owned.Group // every goroutine of the client
	once   sync.Once
}

// New starts a client: it reads the reputations and the job records of
// the data dir (the unfinished jobs wait for Resume) and, with
// Config.Listen, takes the bids and capacity records gossiped from now on.
// The client lives until ctx ends or Close.
func New(ctx context.Context, o Options) (*Client, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg: o.Config, mesh: o.Mesh, content: o.Content, store: o.Content.Store(), credits: o.Credits, publish: o.Publish,
		blobs: o.Blobs, metrics: o.Metrics, spend: o.Spend, ownScore: o.OwnScore, now: o.Now, log: o.Log,
		auctions: map[string]*pending{}, backlog: newBacklog(),
	}
	if c.cfg.MaxAuctions <= 0 {
		c.cfg.MaxAuctions = DefaultMaxAuctions
	}
	c.slots = make(chan struct{}, c.cfg.MaxAuctions)
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.reps = newReputations(c.cfg.DataDir, c.log)
	if err := c.openJournal(); err != nil {
		c.cancel()
		return nil, err
	}
	if c.cfg.Listen {
		if err := c.listen(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// listen takes the gossiped bids (for auctions and the market view) and
// capacity records (for the record cache).
func (c *Client) listen() error {
	if err := c.mesh.OnBid(c.onBid); err != nil {
		return fmt.Errorf("client: taking bids: %w", err)
	}
	if err := c.mesh.OnCapacity(c.onCapacity); err != nil {
		return fmt.Errorf("client: taking capacity records: %w", err)
	}
	return nil
}

// Close stops the client: nothing new starts, its goroutines end (the
// jobs they dispatch stay unfinished in their records, to resume at the
// next start), then the job records close and the reputations are saved.
func (c *Client) Close() error {
	var err error
	c.once.Do(func() {
		c.own.Stop()
		c.cancel()
		c.own.Wait()
		if c.journal != nil {
			c.journal.close()
		}
		err = c.reps.save()
	})
	return err
}

// Refs are the blobs the job records need kept in the store: the outputs
// of the finished jobs kept, the inputs and stored module of the
// unfinished ones (none without a data dir).
func (c *Client) Refs() []string {
	if c.journal == nil {
		return nil
	}
	return c.journal.refs()
}

// Journaled reports whether the client keeps job records (it has a data
// dir).
func (c *Client) Journaled() bool { return c.journal != nil }

// openJournal opens the job records of a client with a data dir and
// prepares the unfinished jobs for resumption (started by Resume).
func (c *Client) openJournal() error {
	dir := c.cfg.RecordsDir
	if c.cfg.DataDir != "" {
		dir = filepath.Join(c.cfg.DataDir, JobsDir)
	}
	if dir == "" {
		return nil
	}
	j, unfinished, err := openJournal(dir, c.cfg.FinishedJobsKept, c.log, c.now)
	if err != nil {
		return err
	}
	c.journal = j
	if c.cfg.DataDir == "" {
		return nil // records only: nothing is resumed
	}
	for _, r := range unfinished {
		if c.reopen(r) {
			c.resumable = append(c.resumable, r.ID)
		}
	}
	return nil
}
