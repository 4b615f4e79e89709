package provider

import (
	"context"
	"errors"
	"github.com/computemesh/computemesh/award"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what a provider is made from: the owner's settings of the
// role (the node passes those of its configuration, checked there) and
// where it reports (metrics, earnings, the log) and reads the time.
type Options struct {
	// Network is the network's name, written into the record ("":
	// mesh.DefaultNetwork).
	Network string
	// DataDir keeps the benchmark cache, the WASM executor's compiled code,
	// exec's work directories and the runs' directories ("": none; runs
	// use the system's temporary directory).
	DataDir string
	// Region, Rates and Capacity are what it offers: where it is, what it
	// asks, and what it runs at once (zero fields: what the machine has).
	Region   string
	Rates    job.Rates
	Capacity job.Resources
	// Hardware is what the machine has; nil: probe it in New.
	Hardware *hwprobe.Report
	// Simulated declares capacity the machine does not have (test
	// networks only: SimulationAllowed).
	Simulated *Simulated
	// RecordTTL is the lifetime of the capacity record (0: DefaultRecordTTL).
	RecordTTL time.Duration
	// Executors the owner enabled ("wasm" is always offered), the exec
	// executor's allowlist, confinement and environment, whether jobs may
	// have network access, and whether docker may pull an image it lacks
	// (see node.Config).
	Executors       []string
	ExecAllow       []string
	ExecUnconfined  bool
	ExecEnv         []string
	AllowJobNetwork bool
	// AllowURLInputs: jobs whose inputs are fetched from URLs are bid for
	// (the content fetches them: content.WithURLInputs); without it they
	// are declined (job.DeclineURLInputs).
	AllowURLInputs bool
	DockerPull     bool
	// WASMCacheDir keeps the WASM executor's compiled code (""; the
	// environment's WASMCacheEnv, else DataDir/wasm-cache, else memory).
	WASMCacheDir string
	// Operator controls: a job cap, the client lists, a price floor, GPU
	// rates by model, the surge, and how many awarded jobs may wait.
	MaxJobs      int
	AllowClients []string
	DenyClients  []string
	PriceFloor   job.Credits
	GPURates     map[string]job.Credits
	Surge        float64
	Queue        int
	// Balances says the network has credits (a faucet): a client's
	// balance must cover its standing bids and its unpaid runs here.
	Balances bool
	// BidGrace is how long a losing bid stands after its request's bid
	// window (0: DefaultBidGrace).
	BidGrace time.Duration
	// Carbon is the carbon intensity of the provider's power, gCO₂e/kWh
	// (0: not declared); CarbonForecast a file of its intensity hour by
	// hour (job.ParseForecast), which the owner keeps current: it is read
	// again when it changes. Self-declared, like Region.
	Carbon         job.Intensity
	CarbonForecast string

	// Now is the provider's clock for deadlines and expiry: bid windows,
	// bids' expiry and holds, the record's expiry, output grants (nil:
	// time.Now).
	Now func() time.Time
	// Metrics are the metrics it counts on (registered by the caller).
	Metrics Metrics
	// Earn is told the charge of each run delivered (nil: nobody).
	Earn func(job.Credits)
	// Log is where it logs (nil: go-log's "computemesh/provider").
	Log Logger
}

// Metrics are the metrics a provider counts on; the caller registers them.
// A nil one counts nowhere.
type Metrics struct {
	// Answers counts answers to job requests by "answer": "bid" or the
	// decline's reason.
	Answers *prometheus.CounterVec
	// Runs counts delivered runs by "result": ok, nonzero_exit, timeout,
	// disk_exceeded, error.
	Runs *prometheus.CounterVec
	// Earned counts the nano-credits charged for delivered runs.
	Earned prometheus.Counter
	// Unreceipted counts runs that ended without a signed receipt.
	Unreceipted prometheus.Counter
}

// Logger is where a Provider logs: a constant message and key-value pairs
// (docs/ARCHITECTURE.md, Logs); go-log's loggers are one.
type Logger interface {
	Debugw(msg string, keysAndValues ...any)
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
	Errorw(msg string, keysAndValues ...any)
}

// Mesh is what a provider needs of the node's mesh; *mesh.Mesh is one.
type Mesh interface {
	Host() host.Host
	Protocol(name string) protocol.ID
	// OnRequest hands the job requests of the classes' topics to h.
	OnRequest(h mesh.RequestHandler, classes ...string) error
	// TakesBids says whether a client takes bids (gossip: the request
	// asks for answers by gossip where there is no connection); SendBid
	// sends one.
	TakesBids(client peer.ID, gossip bool) bool
	SendBid(ctx context.Context, b *job.Bid, client peer.ID) error
	// Announce provides the capability keys on the DHT, closing ready once
	// they are; PutCapacity stores a signed capacity record.
	Announce(capabilities []string, ready chan<- struct{})
	PutCapacity(ctx context.Context, c *job.Capacity) (int, error)
	// FetchBlob fetches a job's module from its client.
	FetchBlob(ctx context.Context, p peer.ID, c string, max int64) ([]byte, error)
}

// Credits is what a provider needs of the node's side of the credit
// ledger; *credits.Book is one.
type Credits interface {
	// Judge syncs a client's records from its holders (now and then);
	// false while the records of a client it knew nothing of are still
	// coming (its balance here may be short of the truth).
	Judge(ctx context.Context, client peer.ID) (settled bool)
	// Funded says why client's balance does not cover price beside what
	// it has committed here ("" when it does); Owes is what its accepted,
	// unpaid runs here may still cost.
	Funded(client string, committed, price job.Credits) string
	Owes(client string) job.Credits
	// CheckAuthorization and Reserve admit an award's payment; Settle
	// ends what a run may still cost, Claim claims it without a receipt;
	// as an award.Payee it counter-signs the client's receipt.
	CheckAuthorization(a *job.Award, client peer.ID, pay job.Credits) string
	Reserve(a *job.Award, check func(owes job.Credits) string) string
	Settle(jobID string, attempt int)
	Claim(a *job.Award, amount job.Credits, why string)
	award.Payee
}

// Deps are the parts of the node a provider works through once the mesh
// is up (see Start).
type Deps struct {
	Mesh    Mesh
	Content *content.Content
	Credits Credits
	// Publish makes a job's outputs public (job.Spec.Publish): root and
	// every block of it (nil: they are not published).
	Publish func(root string, blocks []string)
}

// ErrConfig matches the errors of New that are the owner's configuration's
// fault (a memory it cannot read, simulated capacity on a real network, an
// exec allowlist that does not resolve); their text is the reason alone.
var ErrConfig = errors.New("provider: invalid configuration")

type configError struct{ err error }

func (e configError) Error() string        { return e.err.Error() }
func (e configError) Unwrap() error        { return e.err }
func (e configError) Is(target error) bool { return target == ErrConfig }

// defaults fills in what o leaves unset.
func (o *Options) defaults() {
	if o.Network == "" {
		o.Network = mesh.DefaultNetwork
	}
	if o.RecordTTL <= 0 {
		o.RecordTTL = DefaultRecordTTL
	}
	if o.BidGrace <= 0 {
		o.BidGrace = DefaultBidGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Earn == nil {
		o.Earn = func(job.Credits) {}
	}
	if o.Log == nil {
		o.Log = logging.Logger("computemesh/provider")
	}
	m := &o.Metrics
	if m.Answers == nil {
		m.Answers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "provider_answers_total"}, []string{"answer"})
	}
	if m.Runs == nil {
		m.Runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "provider_runs_total"}, []string{"result"})
	}
	if m.Earned == nil {
		m.Earned = prometheus.NewCounter(prometheus.CounterOpts{Name: "earned_nanocredits_total"})
	}
	if m.Unreceipted == nil {
		m.Unreceipted = prometheus.NewCounter(prometheus.CounterOpts{Name: "unreceipted_runs_total"})
	}
}
