package node

import (
	"errors"
	"fmt"
	"github.com/computemesh/computemesh/award"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Modes a node runs in.
const (
	ModeProvider = "provider"
	ModeClient   = "client"
)

// Config is everything a node is started from.
type Config struct {
	// DataDir keeps the identity key, the API token and address. Empty for
	// an ephemeral node (a fresh identity, no API).
	DataDir string
	// Listen are the listen multiaddrs. nil: loopback on free ports; an
	// empty non-nil slice: none (the node dials out and is reachable only
	// through Relays).
	Listen    []string
	Bootstrap []string
	Network   string
	Mode      string
	MDNS      bool
	// Ephemeral nodes query the DHT without serving it (short-lived clients).
	Ephemeral bool

	// Provider settings.
	Region   string
	Rates    job.Rates
	Capacity job.Resources // what the provider offers at once; zero: what the machine has

	// API is the loopback address of the local HTTP API ("" for none;
	// "127.0.0.1:0" picks a free port).
	API string
	// MetricsListen is the address of a listener serving GET /metrics
	// alone, behind a token of its own (DataDir/metrics.token); "" for
	// none. A loopback address unless MetricsPublic.
	MetricsListen string
	// MetricsPublic lets MetricsListen be any address (the owner's choice).
	MetricsPublic bool

	// BidWindow is the default deadline of an auction (250ms).
	BidWindow time.Duration

	// Hardware is what the machine has; nil: probe it at start.
	Hardware *hwprobe.Report
	// Simulated declares capacity the machine does not have (test networks).
	Simulated *Simulated
	// RecordTTL is the lifetime of the provider's capacity record
	// (default DefaultRecordTTL).
	RecordTTL time.Duration
	// CarbonIntensity is the carbon intensity of the provider's power in
	// gCO₂e/kWh (0: not declared); CarbonForecast a file of it hour by
	// hour (job.ParseForecast) that its owner keeps current. Both go into
	// the capacity record and each bid (issue #19); self-declared.
	CarbonIntensity job.Intensity
	CarbonForecast  string
	// Executors the owner lets this provider run: "wasm" (default, always
	// offered), "docker" (offered only when the Docker daemon answers) and
	// "exec" (programs of this host, named in ExecAllow; offered only when
	// their limits can be enforced). Each must be enabled here explicitly.
	Executors []string
	// ExecAllow is the owner's allowlist for the "exec" executor: absolute
	// paths of programs, or bare names resolved through PATH at start. Exec
	// jobs name their command by absolute path; a provider declines
	// (job.DeclineCommand) any other. Required, non-empty, when Executors
	// has "exec"; refused otherwise. Commands run confined (Landlock,
	// namespaces, seccomp: see executor.Exec) to their own directories;
	// where that is not available exec is not offered unless
	// ExecUnconfined.
	ExecAllow []string
	// ExecUnconfined lets exec run commands unconfined where confinement
	// is not available: as the node's user, seeing its files (the
	// identity key included) and network. Only for commands the owner
	// trusts with all of that.
	ExecUnconfined bool
	// ExecEnv adds names (or "PREFIX_*") to the environment variables exec
	// jobs may set (see executor.WithExecEnv).
	ExecEnv []string
	// AllowJobNetwork lets docker and exec jobs that ask for it have
	// network access (off: every job runs without a network).
	AllowJobNetwork bool
	// AllowURLInputs lets jobs' inputs be fetched from URLs by this
	// provider (only public addresses, but on test networks).
	AllowURLInputs bool
	// IPFSPeers are IPFS nodes (multiaddrs ending in /p2p/ID) that this
	// node keeps connected to, so that Bitswap finds the blocks of IPFS
	// inputs they hold.
	IPFSPeers []string
	// MaxInputBytes is the most a provider fetches of one job's inputs
	// (0: content.MaxInputBytes).
	MaxInputBytes int64
	// DockerPull lets the provider pull a job's image it lacks (where a
	// registry is reachable); off: it declines such jobs.
	DockerPull bool

	// Operator controls: at most MaxJobs jobs at once (0: the capacity is
	// the only limit), serve only AllowClients when set, never DenyClients
	// (peer IDs); PriceFloor is the least a job costs here.
	MaxJobs      int
	AllowClients []string
	DenyClients  []string
	PriceFloor   job.Credits
	// GPURates price GPUs by model key ("h100"); models not listed cost
	// Rates.GPUHour. Surge raises every rate by Surge × the share of CPU
	// already reserved when a request arrives (0: none; 1: double at full
	// use).
	GPURates map[string]job.Credits
	Surge    float64
	// Queue is how many awarded jobs may wait for capacity when the
	// provider is full (0: none; it declines busy). A full provider with
	// room in its queue bids with the queue position and an estimated wait.
	Queue int

	// Faucet is the peer ID of the network's faucet key: the only signer of
	// credit grants. With a faucet the network has credits: providers
	// refuse clients whose balance, in their own ledger, is below the
	// price, or who double-spent. Empty: no grants, no balance checks
	// (receipts are still signed and kept). The test faucet
	// (internal/testfaucet) is refused outside test networks.
	Faucet string

	// HeartbeatTimeout is how long a client waits on a silent award stream
	// before it takes the provider for dead and fails over (default 3s;
	// providers send a heartbeat every second of quiet).
	HeartbeatTimeout time.Duration

	// Delay adds this much to every round trip with the node (test
	// networks only): latency that ping, gossip and streams all see.
	Delay time.Duration

	// RelayService makes the node a circuit relay v2 for peers behind NAT
	// (bootstrap nodes), each relayed connection bounded by RelayLimit
	// (zero fields: mesh.DefaultRelayDuration and mesh.DefaultRelayData).
	RelayService bool
	RelayLimit   mesh.RelayLimit
	// Relays are the relays a node behind NAT reserves slots on; its
	// relayed addresses are advertised once reserved.
	Relays []string
	// Reachability overrides AutoNAT: mesh.ReachabilityPrivate ("private")
	// for a node known to be behind NAT, "public" for one known to be
	// dialable, "" to let AutoNAT decide.
	Reachability string

	// StoreMaxBytes and StoreRetention bound the node's content store (0:
	// store.DefaultMaxBytes, store.DefaultMaxAge): what nothing protects is
	// dropped once unused for StoreRetention, then the least recently used
	// while the store is over StoreMaxBytes (see Node.GC). GCInterval is how
	// often it is collected (0: DefaultGCInterval; negative: only on demand).
	StoreMaxBytes  int64
	StoreRetention time.Duration
	GCInterval     time.Duration
	// MemoryTrim is how often the node hands freed heap back to the system
	// when it holds more than 1 MiB of it (0: never, the runtime returns
	// it over minutes). The runtime's memory is the process's: meshnode
	// sets it for its one node; embedders choose.
	MemoryTrim time.Duration
	// MaxAuctions is how many auctions this node runs at once as a client
	// (0: client.DefaultMaxAuctions): a job past it waits for one to end,
	// so that a large batch never asks providers for more answers than
	// they can give within a bid window.
	MaxAuctions int
	// BusyWait is how long a job submitted without a deadline goes on
	// auctioning while the mesh is busy — candidates silent or declining
	// busy — before it ends unscheduled (0: client.DefaultBusyWait).
	BusyWait time.Duration
	// RecordsDir, for a node without a DataDir (an ephemeral client),
	// keeps the records of the jobs it submits (client.Config.RecordsDir).
	RecordsDir string
	// Clock is the node's clock (nil: time.Now): the parts the node
	// composes (content, credits, client, provider) read it for deadlines,
	// expiries and the times records carry; tests move it forward. Network
	// deadlines and measured durations stay on the wall clock.
	Clock func() time.Time
	// AssumeLedgerComplete lets a client sign receipts when no peer could
	// tell it the receipts its identity signed before (its own ledger has
	// none: a new data dir). Off, it refuses to pay until a peer answers,
	// so that an identity moved without its ledger never signs a number
	// twice (a double spend in every provider's eyes).
	AssumeLedgerComplete bool
	// RequestRate and RequestBurst bound the job requests this node
	// handles and relays per author (the signing client): rate per second,
	// burst at once; the rest are ignored (0: mesh.DefaultRequestRate and
	// mesh.DefaultRequestBurst).
	RequestRate  float64
	RequestBurst int
	// GossipBidRate bounds the answers a provider gossips, a second, to
	// clients it has no connection to (it sends a connected client's on a
	// stream); past it, it does not answer them (0: mesh.DefaultGossipBidRate).
	GossipBidRate float64
	// ConnsPerIP bounds the connections accepted from one IP (0:
	// mesh.DefaultConnsPerIP; loopback is not limited).
	ConnsPerIP int
	// BidGrace is how long a provider's losing bid stands after its
	// request's bid window (0: DefaultBidGrace). A client holds its
	// backups' bids (the next two in its ranking) when a job still
	// runs at half of it.
	BidGrace time.Duration

	// WASMCacheDir keeps the WASM executor's compiled code in this
	// directory (default: DataDir/wasm-cache; memory for a node without a
	// DataDir). Nodes of one owner may share one (entries are written
	// atomically); wazero trusts what it finds there.
	WASMCacheDir string

	// Host is a libp2p host to build the node's mesh on instead of
	// starting one (test networks only: simulations of hundreds of nodes in
	// one process on libp2p's mocknet; see mesh.Host). The node's key is
	// the host's; Listen, Delay and the relay options do not apply. The
	// node owns it: Close closes it.
	Host host.Host

	// TestIdentity derives the node's key from this seed instead of the
	// data dir's key (test networks only): fixed peer IDs for a testnet's
	// bootstrap nodes. Anyone can derive the same key.
	TestIdentity string
}

// DefaultBidWindow is how long a client waits for bids unless every
// candidate has answered sooner.
const DefaultBidWindow = 250 * time.Millisecond

// DefaultHeartbeatTimeout is how long a silent award stream is trusted.
const DefaultHeartbeatTimeout = 3 * time.Second

// ErrConfig wraps what is wrong with a node's configuration.
var ErrConfig = errors.New("invalid configuration")

func (c *Config) check() error {
	if err := c.checkFields(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (c *Config) checkFields() error {
	switch c.Mode {
	case ModeProvider, ModeClient:
	case "":
		c.Mode = ModeProvider
	default:
		return fmt.Errorf("mode: %q is not %s or %s", c.Mode, ModeProvider, ModeClient)
	}
	if c.BidWindow <= 0 {
		c.BidWindow = DefaultBidWindow
	}
	if c.Faucet != "" {
		if _, err := peer.Decode(c.Faucet); err != nil {
			return fmt.Errorf("faucet: %q is not a peer ID: %v", c.Faucet, err)
		}
		if c.Faucet == testfaucet.ID && !SimulationAllowed(c.Network) {
			return fmt.Errorf("faucet: the test faucet's key is public: it is refused on network %q (only on test networks)", c.Network)
		}
	}
	if err := c.checkFlood(); err != nil {
		return err
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if err := c.checkMetrics(); err != nil {
		return err
	}
	if _, err := c.ipfsPeers(); err != nil {
		return err
	}
	if c.StoreMaxBytes < 0 || c.StoreRetention < 0 {
		return fmt.Errorf("store-max, store-retention: negative")
	}
	if c.HeartbeatTimeout < 2*award.HeartbeatEvery {
		return fmt.Errorf("heartbeat-timeout: %v is under twice the heartbeat interval %v", c.HeartbeatTimeout, award.HeartbeatEvery)
	}
	if c.Mode == ModeProvider {
		return c.checkProvider()
	}
	if len(c.ExecAllow) > 0 {
		return fmt.Errorf("exec-allow: only a provider runs exec jobs")
	}
	return nil
}

// checkProvider checks and defaults what only a provider sets: region,
// rates, executors, limits, queue and client lists.
func (c *Config) checkProvider() error {
	if c.Region == "" {
		return fmt.Errorf("region: a provider must name its region (e.g. --region eu-west)")
	}
	if err := job.ValidateRegionGlob(c.Region); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if c.Rates.CPUHour <= 0 {
		return fmt.Errorf("price-cpu-hour: a provider must set a positive rate")
	}
	if c.RecordTTL < 0 || c.RecordTTL > job.MaxRecordTTL {
		return fmt.Errorf("record-ttl: %v is out of range (up to %v: peers refuse a record that lives longer)", c.RecordTTL, job.MaxRecordTTL)
	}
	if len(c.Executors) == 0 {
		c.Executors = []string{job.ExecutorWASM}
	}
	for _, e := range c.Executors {
		if e != job.ExecutorWASM && e != job.ExecutorDocker && e != job.ExecutorExec {
			return fmt.Errorf("executors: %q is not one of %s, %s, %s", e, job.ExecutorWASM, job.ExecutorDocker, job.ExecutorExec)
		}
	}
	if err := c.checkExecAllow(); err != nil {
		return err
	}
	if c.MaxJobs < 0 {
		return fmt.Errorf("max-jobs: %d is negative", c.MaxJobs)
	}
	if c.Surge < 0 || c.Surge > 100 {
		return fmt.Errorf("surge: %g is out of range (0 to 100)", c.Surge)
	}
	if c.Rates.MemGiBHour < 0 || c.Rates.StorageGiBHour < 0 {
		return fmt.Errorf("price-mem-gib-hour, price-storage-gib-hour: negative")
	}
	for m, r := range c.GPURates {
		if m == "" || r < 0 {
			return fmt.Errorf("price-gpu-model: %q=%s: want a model key and a rate of 0 or more", m, r)
		}
	}
	if c.Queue < 0 || c.Queue > 1<<16 {
		return fmt.Errorf("queue: %d is out of range (0 to %d)", c.Queue, 1<<16)
	}
	if c.PriceFloor < 0 {
		return fmt.Errorf("price-floor: negative")
	}
	for _, list := range [][]string{c.AllowClients, c.DenyClients} {
		for _, p := range list {
			if _, err := peer.Decode(p); err != nil {
				return fmt.Errorf("allow-clients/deny-clients: %q is not a peer ID: %v", p, err)
			}
		}
	}
	return nil
}

// checkExecAllow checks the exec allowlist against the enabled executors:
// exec needs one, and one without exec is a mistake worth saying.
func (c *Config) checkExecAllow() error {
	exec := slices.Contains(c.Executors, job.ExecutorExec)
	switch {
	case exec && len(c.ExecAllow) == 0:
		return fmt.Errorf("exec-allow: the exec executor needs an allowlist of commands (absolute paths or program names)")
	case !exec && len(c.ExecAllow) > 0:
		return fmt.Errorf("exec-allow: an allowlist is given but the exec executor is not enabled (add exec to executors)")
	}
	for i, a := range c.ExecAllow {
		switch {
		case a == "" || strings.ContainsRune(a, 0):
			return fmt.Errorf("exec-allow[%d]: %q is not a command", i, a)
		case !filepath.IsAbs(a) && strings.ContainsRune(a, filepath.Separator):
			return fmt.Errorf("exec-allow[%d]: %q is a relative path: give an absolute path or a program name", i, a)
		}
	}
	return nil
}

// ipfsPeers parses IPFSPeers.
func (c *Config) ipfsPeers() ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range c.IPFSPeers {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("ipfs-peer: %q is not a multiaddr ending in /p2p/PEER-ID: %v", s, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}
