package client

import (
	"context"
	"errors"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/credits"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// Mesh is what a Client needs of the mesh; *mesh.Mesh satisfies it.
type Mesh interface {
	ID() peer.ID
	Host() host.Host
	Protocol(name string) protocol.ID
	Connect(ctx context.Context, ai peer.AddrInfo) error
	ConnsTo(p peer.ID) mesh.ConnStats
	RTT(p peer.ID) time.Duration
	Ping(ctx context.Context, p peer.ID) (time.Duration, error)
	OnBid(h mesh.BidHandler) error
	OnCapacity(h mesh.CapacityHandler) error
	PublishRequest(ctx context.Context, r *job.Request) error
	TopicPeers() (jobs, bids []peer.ID)
	ClassPeers(class string) []peer.ID
	WaitProviders(ctx context.Context, n int) error
	FindProviders(ctx context.Context, capability string) []peer.AddrInfo
	GetCapacity(ctx context.Context, p peer.ID) (*job.Capacity, error)
}

// Logger is where a Client logs: a constant message and key-value pairs
// (docs/ARCHITECTURE.md, Logs); go-log's loggers are one.
type Logger interface {
	Debugw(msg string, keysAndValues ...any)
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
	Errorw(msg string, keysAndValues ...any)
}

// Config is what a Client reads of its node's configuration.
type Config struct {
	// DataDir keeps the job records (JobsDir) and the reputations; ""
	// keeps neither.
	DataDir string
	// RecordsDir, when DataDir is "", keeps the job records alone (a
	// short-lived client's: meshnode submit --bootstrap), so that its jobs
	// can be described afterwards; its unfinished jobs are never resumed
	// (no node stays to run them). One client writes it at a time.
	RecordsDir string
	// BidWindow is an auction's window when the submission names none.
	BidWindow time.Duration
	// HeartbeatTimeout is how long an award stream may stay silent
	// before its provider is taken for dead.
	HeartbeatTimeout time.Duration
	// BidGrace is how long a bid stands past its window: the backups'
	// bids are held at half of it.
	BidGrace time.Duration
	// FinishedJobsKept is how many finished job records the data dir
	// keeps (0: FinishedJobsKept).
	FinishedJobsKept int
	// Listen subscribes to bids and capacity records from the start (a
	// client node); otherwise at the first job (a provider that submits).
	Listen bool
	// MaxAuctions is how many auctions the client runs at once (0:
	// DefaultMaxAuctions); a job past it waits for one to end.
	MaxAuctions int
	// BusyWait is how long a job without a deadline goes on auctioning
	// while the mesh is busy (candidates silent or declining busy) before
	// it ends unscheduled (0: DefaultBusyWait).
	BusyWait time.Duration
}

// Metrics are the metrics a Client counts on; the caller registers them.
// A nil one counts nowhere.
type Metrics struct {
	Jobs        *prometheus.CounterVec // jobs by final state (label "state")
	Duration    prometheus.Histogram   // submit to result, seconds
	Auction     prometheus.Histogram   // one auction round, gossip to winner, seconds
	Spent       prometheus.Counter     // nano-credits paid for jobs
	Unreceipted prometheus.Counter     // attempts that ended without a signed receipt
}

// Options are a Client's parts and settings. Mesh, Content and Credits
// are required.
type Options struct {
	Mesh    Mesh
	Content *content.Content // the store with its grants and fetches
	Credits *credits.Book    // authorisations, receipts, the ledger's receipts for reputations
	// Blobs holds the modules of the jobs in flight, pinned, for the
	// winners to fetch (default: a cache of its own; the node serves
	// blobs from the one it passes).
	Blobs   *mesh.BlobCache
	Config  Config
	Metrics Metrics
	// Spend is told of every charge paid for a job (default: nothing).
	Spend func(job.Credits)
	// OwnScore is this node's SHA-256 MB/s per core, the yardstick of
	// challenges (default: 1).
	OwnScore func() float64
	// Now is the node's clock (default: time.Now).
	Now func() time.Time
	// Publish makes a job's fetched outputs public (job.Spec.Publish):
	// root and every block of it (default: they are not).
	Publish func(root string, blocks []string)
	// Log is where the Client logs (default: go-log's "computemesh/client").
	Log Logger
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Mesh == nil:
		return o, errors.New("client: no mesh")
	case o.Content == nil:
		return o, errors.New("client: no content")
	case o.Credits == nil:
		return o, errors.New("client: no credits")
	}
	if o.Blobs == nil {
		o.Blobs = mesh.NewBlobCache(256 << 20)
	}
	if o.Config.FinishedJobsKept <= 0 {
		o.Config.FinishedJobsKept = FinishedJobsKept
	}
	if o.Publish == nil {
		o.Publish = func(string, []string) {}
	}
	if o.Spend == nil {
		o.Spend = func(job.Credits) {}
	}
	if o.OwnScore == nil {
		o.OwnScore = func() float64 { return 1 }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = logging.Logger("computemesh/client")
	}
	o.Metrics = o.Metrics.withDefaults()
	return o, nil
}

// withDefaults gives every nil metric one that counts nowhere.
func (m Metrics) withDefaults() Metrics {
	if m.Jobs == nil {
		m.Jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "client_jobs_total"}, []string{"state"})
	}
	if m.Duration == nil {
		m.Duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "client_job_seconds"})
	}
	if m.Auction == nil {
		m.Auction = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "client_auction_seconds"})
	}
	if m.Spent == nil {
		m.Spent = prometheus.NewCounter(prometheus.CounterOpts{Name: "spent_nanocredits_total"})
	}
	if m.Unreceipted == nil {
		m.Unreceipted = prometheus.NewCounter(prometheus.CounterOpts{Name: "unreceipted_runs_total"})
	}
	return m
}
