package content

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/computemesh/computemesh/store"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/exchange"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Fetcher fetches one blob by CID from a peer, at most max bytes of it,
// verified against its CID (mesh.Mesh is one).
type Fetcher interface {
	FetchBlob(ctx context.Context, p peer.ID, c string, max int64) ([]byte, error)
}

// Content is a node's store with its grants and fetches. It is safe for
// concurrent use.
type Content struct {
	store *store.Store
	dag   *unixfs.DAG // the store's UnixFS view (dag.go)
	fetch Fetcher
	now   func() time.Time

	mu     sync.Mutex
	grants map[string]map[peer.ID]time.Time // blob CID → peers that may fetch it, until when
	// held are a provider's outputs blobs kept for their client, until
	// when (then collected: see GC).
	held map[string]time.Time
	// inflight are the roots of DAGs being fetched (how many fetches):
	// kept by collections, with what is there of them.
	inflight map[string]int
	// public are blocks any peer may fetch (published outputs: Publish);
	// publicRoots the roots published whole, with their files' bytes.
	public      map[string]bool
	publicRoots map[string]int64

	// URL inputs (urlinput.go): allowed at all; any address (a test
	// network); the address check itself (tests).
	urlInputs, anyAddr bool
	urlAllow           func(netip.Addr) bool
	// ipfs starts (once) and returns the exchange of IPFS inputs (nil:
	// none are fetched).
	ipfs      func() (exchange.Interface, error)
	ipfsStall time.Duration // WithIPFSStall
	// parent is the node's content of a job's own (StageInputs): its
	// public blocks are taken from there (localFirst).
	parent *Content
	// inputLimit is the most bytes of one job's inputs this node fetches
	// as a provider (MaxInputBytes unless its owner allows less).
	inputLimit int64
}

// Option configures a Content.
type Option func(*Content)

// WithClock makes the content read the time from now (nil: time.Now):
// when grants expire and what the store's collection takes for the present.
func WithClock(now func() time.Time) Option {
	return func(c *Content) {
		if now != nil {
			c.now = now
		}
	}
}

// WithInputLimit makes a provider fetch at most bytes of one job's inputs
// (0 or more than MaxInputBytes: MaxInputBytes); a job whose inputs are
// larger fails, naming the limit.
func WithInputLimit(bytes int64) Option {
	return func(c *Content) {
		if bytes > 0 && bytes < MaxInputBytes {
			c.inputLimit = bytes
		}
	}
}

// WithURLInputs lets jobs' inputs be fetched from URLs (job.Input.URL);
// testNetwork lets them reach any address, loopback and private ones
// included (a test network's nodes and servers are local).
func WithURLInputs(allow, testNetwork bool) Option {
	return func(c *Content) { c.urlInputs, c.anyAddr = allow, testNetwork }
}

// New is the content of store s, fetching from peers with f.
func New(s *store.Store, f Fetcher, opts ...Option) *Content {
	c := &Content{store: s, dag: unixfs.New(unixfs.StoreBlocks(s)), fetch: f, inputLimit: MaxInputBytes, ipfsStall: DefaultIPFSStall, now: time.Now, grants: map[string]map[peer.ID]time.Time{}, held: map[string]time.Time{},
		inflight: map[string]int{}, public: map[string]bool{}, publicRoots: map[string]int64{}}
	for _, o := range opts {
		o(c)
	}
	// What a crash left of the stores of its own (staging) goes now.
	_ = os.RemoveAll(filepath.Join(s.Dir(), stagingDir))
	return c
}

// Held is how many blobs this provider keeps for its clients (a job's
// outputs, until their grant and OutputsGrace have passed).
func (c *Content) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// Store is the content's store.
func (c *Content) Store() *store.Store { return c.store }

// Grant lets p fetch the blobs cs until the deadline, or a later one it
// has already, or withdraws that, with a deadline in the past. Expired
// grants are dropped as they are met, and by every collection (GC).
func (c *Content) Grant(p peer.ID, until time.Time, cs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, id := range cs {
		g := c.grants[id]
		if g == nil {
			g = map[peer.ID]time.Time{}
			c.grants[id] = g
		}
		if !until.After(now) {
			delete(g, p) // withdrawn
		} else if until.After(g[p]) {
			g[p] = until // a shorter grant (another job's) never cuts a longer one
		}
		for q, t := range g {
			if !t.After(now) {
				delete(g, q)
			}
		}
		if len(g) == 0 {
			delete(c.grants, id)
		}
	}
}

// Granted says whether p may fetch the blob id: a provider awarded a job
// that uses it (module, inputs), or the client of a job that produced it
// (outputs); anyone, for a published block (Publish).
func (c *Content) Granted(p peer.ID, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.public[id] || c.grants[id][p].After(c.now())
}

// Publish lets any peer fetch the blocks of the DAG root (a job's
// published outputs: root's files hold bytes), for as long as the store
// holds them.
func (c *Content) Publish(root string, bytes int64, blocks ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range blocks {
		c.public[b] = true
	}
	c.publicRoots[root] = bytes
}

// PublicBytes is how many bytes of the DAGs roots this node holds whole
// and public (Publish): what a job taking them from IPFS need not fetch
// here (job.Bid.Held).
func (c *Content) PublicBytes(roots []string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, r := range roots {
		n += c.publicRoots[r]
	}
	return n
}

// publicBlock reports whether the block id is public (Publish).
func (c *Content) publicBlock(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.public[id]
}

// Hold notes that this provider keeps blobs (a job's outputs) for a client
// until until, plus OutputsGrace.
func (c *Content) Hold(until time.Time, blobs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range blobs {
		if t := until.Add(OutputsGrace); t.After(c.held[id]) {
			c.held[id] = t
		}
	}
}
