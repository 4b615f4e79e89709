package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/client"
	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/credits"
	"github.com/computemesh/computemesh/internal/owned"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/provider"
	"github.com/computemesh/computemesh/store"
	"github.com/computemesh/computemesh/unixfs"
	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/peer"
)

var log = logging.Logger("computemesh/node")

// Node is a running computemesh node. It owns its mesh, executor, API server
// and goroutines; Close stops them all.
type Node struct {
	cfg     Config
	mesh    *mesh.Mesh
	session session // earned and spent since the start

	// provider is the provider role (package provider); nil for a client.
	provider *provider.Provider

	// client role: every node is a client (a provider may submit too).
	client *client.Client
	// blobs are the modules of this client's jobs, pinned while in flight
	// (the client's; the node serves them).
	blobs    *mesh.BlobCache
	store    *store.Store     // content by CID: inputs, outputs (content's)
	content  *content.Content // the store with its grants and fetches
	tmpStore string           // the store's temporary directory (nodes without a data dir)
	// ownScore is this node's SHA-256 score, the yardstick of challenges.
	ownScore struct {
		once  sync.Once
		score float64
	}
	// credits is the node's side of the credit ledger; book is its
	// ledger (credits.Ledger()), for the readers of balances.
	credits *credits.Book
	book    *ledger.Ledger

	// A client's drain (a provider's is its own): closed at once.
	drainOnce sync.Once
	drained   chan struct{}

	api        *apiServer
	metrics    *metrics
	metricsSrv *api.MetricsServer // the metrics listener (nil: none)
	ipfs       ipfs               // Bitswap, started when first needed (ipfs.go)
	// blockBufs are the buffers blocks are served from (blob): a leaf's
	// size each (a larger block gets a slice of its own).
	blockBufs sync.Pool

	ctx    context.Context
	cancel context.CancelFunc
	own    owned.Group // every goroutine of the node (owned.go)
	once   sync.Once
}

// New starts a node from cfg.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		blobs:   mesh.NewBlobCache(256 << 20),
		drained: make(chan struct{}),
	}
	n.blockBufs.New = func() any { b := make([]byte, unixfs.ChunkSize+4096); return &b } // a leaf, or less
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.metrics = newMetrics(n)
	opts, err := meshOptions(cfg, n.metrics)
	if err != nil {
		return nil, err
	}
	if err := n.openStore(); err != nil {
		return nil, err
	}
	if cfg.Mode == ModeProvider {
		if err := n.newProvider(ctx); err != nil {
			return nil, err
		}
	}
	n.mesh, err = mesh.New(ctx, opts...)
	if err != nil {
		_ = n.closeProvider()
		return nil, err
	}
	n.content = content.New(n.store, n.mesh, content.WithClock(cfg.Clock),
		content.WithURLInputs(cfg.AllowURLInputs, SimulationAllowed(cfg.Network)), content.WithInputLimit(cfg.MaxInputBytes),
		content.WithIPFS(n.bitswap))
	if err := n.start(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// meshOptions turns cfg into the mesh's options.
func meshOptions(cfg Config, m *metrics) ([]mesh.Option, error) {
	// A node behind NAT cannot be dialled: it queries the DHT without
	// serving it, or it would stall everyone's look-ups.
	dhtServer := !cfg.Ephemeral && cfg.Reachability != mesh.ReachabilityPrivate
	opts := []mesh.Option{mesh.DHTServer(dhtServer), mesh.MDNS(cfg.MDNS)}
	if !cfg.Ephemeral {
		opts = append(opts, mesh.Metrics(m.reg))
	}
	if cfg.Network != "" {
		opts = append(opts, mesh.Network(cfg.Network))
	}
	if cfg.Listen != nil {
		opts = append(opts, mesh.Listen(cfg.Listen...))
	}
	if len(cfg.Bootstrap) > 0 {
		opts = append(opts, mesh.Bootstrap(cfg.Bootstrap...))
	}
	id, err := identityOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, id...)
	opts = append(opts, relayOptions(cfg)...)
	if cfg.Delay > 0 {
		if !SimulationAllowed(cfg.Network) {
			return nil, fmt.Errorf("%w: delay: only on test networks (names starting with \"test\", and \"devnet\")", ErrConfig)
		}
		opts = append(opts, mesh.Delay(cfg.Delay))
	}
	opts = append(opts, cfg.floodOptions()...)
	if cfg.Host != nil {
		if !SimulationAllowed(cfg.Network) {
			return nil, fmt.Errorf("%w: host: only on test networks (names starting with \"test\", and \"devnet\")", ErrConfig)
		}
		opts = append(opts, mesh.Host(cfg.Host))
	}
	if err := mesh.CheckOptions(opts...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return opts, nil
}

// identityOptions gives the node its key (a test key, the data dir's, or
// a fresh one) and its known-peers file.
func identityOptions(cfg Config) ([]mesh.Option, error) {
	var opts []mesh.Option
	switch {
	case cfg.TestIdentity != "":
		if !SimulationAllowed(cfg.Network) {
			return nil, fmt.Errorf("%w: test identity: only on test networks (names starting with \"test\", and \"devnet\")", ErrConfig)
		}
		opts = append(opts, mesh.Identity(mesh.TestKey(cfg.TestIdentity)))
	case cfg.DataDir != "":
		k, err := mesh.LoadOrCreateKey(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		opts = append(opts, mesh.Identity(k))
	}
	if cfg.DataDir != "" {
		opts = append(opts, mesh.PeersFile(filepath.Join(cfg.DataDir, "peers.json")))
	}
	return opts, nil
}

// relayOptions: the relay service, static relays and reachability.
func relayOptions(cfg Config) []mesh.Option {
	var opts []mesh.Option
	if cfg.RelayService {
		lim := cfg.RelayLimit
		if lim.Duration == 0 {
			lim.Duration = mesh.DefaultRelayDuration
		}
		if lim.Data == 0 {
			lim.Data = mesh.DefaultRelayData
		}
		opts = append(opts, mesh.RelayService(lim))
	}
	if len(cfg.Relays) > 0 {
		opts = append(opts, mesh.Relays(cfg.Relays...))
	}
	reach := cfg.Reachability
	if cfg.RelayService && reach == "" {
		// go-libp2p runs a relay service only on a host it deems public;
		// AutoNAT cannot tell on private addresses, and a relay is meant to
		// be dialable by definition.
		reach = mesh.ReachabilityPublic
	}
	if reach != "" {
		opts = append(opts, mesh.Reachability(reach))
	}
	return opts
}

// start brings the node up on its mesh, in order: blobs, the ledger and
// its protocols (credits), the client role (its job records, and a client
// node's bids and capacity records), background work, the provider's
// handlers, the API, the metrics listener, resumes.
// On an error the caller closes the node.
func (n *Node) start() error {
	cfg := n.cfg
	n.mesh.ServeBlobs(n.blob, n.content.Granted)
	if err := n.openCredits(); err != nil {
		return err
	}
	if err := n.openClient(); err != nil {
		return err
	}
	if cfg.MemoryTrim > 0 {
		n.spawn(func() { n.trimMemory(cfg.MemoryTrim) })
	}
	if cfg.GCInterval >= 0 {
		n.spawn(n.collectGarbage)
	}
	if peers, _ := cfg.ipfsPeers(); len(peers) > 0 { // checked by cfg.check
		n.spawn(func() { n.keepIPFSPeers(peers) })
	}
	n.republish()
	if cfg.Mode == ModeProvider {
		if err := n.startProvider(); err != nil {
			return err
		}
	}
	if err := n.startAPIIfAsked(); err != nil {
		return err
	}
	if err := n.startMetricsIfAsked(); err != nil {
		return err
	}
	n.client.Resume()
	return nil
}

// openCredits opens the node's ledger (<data-dir>/ledger, or under the
// temporary store of a node without a data dir) and starts its side of
// the credit ledger on the mesh: the ledger topic, the ledger-sync and
// ledger-store protocols, the records' sending. Its background work ends
// with the node's context; Close closes it after the node's goroutines.
func (n *Node) openCredits() error {
	cfg := n.cfg
	base := cfg.DataDir
	if base == "" {
		base = n.tmpStore
	}
	c, err := credits.New(n.ctx, n.mesh,
		credits.Dir(filepath.Join(base, "ledger")),
		credits.Faucet(cfg.Faucet),
		credits.AssumeComplete(cfg.AssumeLedgerComplete),
		credits.FreshKey(cfg.TestIdentity == "" && cfg.DataDir == ""), // no history to learn
		credits.Metrics(credits.Counters{Rejected: n.metrics.ledgerRejected, Claims: n.metrics.claims}),
		credits.Log(log),
		credits.Clock(cfg.Clock))
	if err != nil {
		return err
	}
	n.credits, n.book = c, c.Ledger()
	return nil
}

// startAPIIfAsked starts the local API on cfg.API, if set.
func (n *Node) startAPIIfAsked() error {
	if n.cfg.API == "" {
		return nil
	}
	if n.cfg.DataDir == "" {
		return fmt.Errorf("api: a node with an API needs a data dir for its token")
	}
	var err error
	if n.api, err = startAPI(n, n.cfg.API, n.cfg.DataDir); err != nil {
		if errors.Is(err, api.ErrNotLoopback) {
			err = fmt.Errorf("%w: %v", ErrConfig, err)
		}
		return err
	}
	return nil
}

// Close stops the node: the ledger records on their way to their holders
// are sent (credits.Book.Flush), then the API stops, then the network,
// then what still runs (the provider's jobs, then its executors), then the
// ledger.
func (n *Node) Close() error {
	var errs []error
	n.once.Do(func() {
		n.own.Stop()
		if n.credits != nil {
			// The records on their way to their holders go first
			// (within a bound), while the host and the Book run.
			n.credits.Flush(context.Background())
		}
		n.cancel()
		if n.api != nil {
			errs = append(errs, n.api.close())
		}
		if n.metricsSrv != nil {
			errs = append(errs, n.metricsSrv.Close())
		}
		if n.mesh != nil {
			errs = append(errs, n.mesh.Close())
		}
		n.own.Wait()
		errs = append(errs, n.closeIPFS(), n.closeProvider())
		if n.client != nil {
			if err := n.client.Close(); err != nil {
				log.Warnw("closing the client", "err", err)
			}
		}
		if n.credits != nil {
			errs = append(errs, n.credits.Close())
		}
		if n.tmpStore != "" {
			_ = os.RemoveAll(n.tmpStore)
		}
	})
	return errors.Join(errs...)
}

// openStore opens the node's content store: <data-dir>/blobs, or a
// temporary directory removed at Close.
func (n *Node) openStore() error {
	dir := ""
	if n.cfg.DataDir != "" {
		dir = filepath.Join(n.cfg.DataDir, "blobs")
	} else {
		tmp, err := os.MkdirTemp("", "computemesh-store-")
		if err != nil {
			return fmt.Errorf("creating a temporary store: %w", err)
		}
		n.tmpStore, dir = tmp, tmp
	}
	s, err := store.Open(dir)
	if err != nil {
		return err
	}
	n.store = s
	return nil
}

// Store returns the node's content store.
func (n *Node) Store() *store.Store { return n.store }

// blob serves a blob by CID string from the module cache or the store
// (unchecked: the peer checks what it gets against the CID), a block read
// into a buffer of the node's, taken back once sent.
func (n *Node) blob(c string) ([]byte, func(), bool) {
	if b, ok := n.blobs.Get(c); ok {
		return b, nil, true
	}
	id, err := job.ParseCID(c)
	if err != nil {
		return nil, nil, false
	}
	buf := n.blockBufs.Get().(*[]byte)
	b, err := n.store.LoadInto(id, *buf)
	if err != nil {
		n.blockBufs.Put(buf)
		return nil, nil, false
	}
	return b, func() { n.blockBufs.Put(buf) }, true
}

// Mesh returns the node's mesh.
func (n *Node) Mesh() *mesh.Mesh { return n.mesh }

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.mesh.ID() }

// Config returns the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// Balance returns the node's credits earned and spent.
func (n *Node) Balance() api.Session { return n.session.snapshot() }

// Info returns a snapshot of the node's state.
func (n *Node) Info() api.Info {
	in := api.Info{
		PeerID: n.ID().String(), Mode: n.cfg.Mode, Network: n.mesh.NetworkName(),
		Region: n.cfg.Region, Rates: n.cfg.Rates,
		Peers: len(n.mesh.Host().Network().Peers()), Balance: n.session.snapshot(),
		Dropped: n.mesh.Drops().Total(), OverRate: n.mesh.Drops().OverRate.Load(),
		Conns: api.ConnStats(n.mesh.Conns()), HolePunch: api.HolePunchStats(n.mesh.HolePunch()), RelayService: n.cfg.RelayService,
	}
	for _, a := range n.mesh.Addrs() {
		in.Addrs = append(in.Addrs, a.String())
		if strings.Contains(a.String(), "/p2p-circuit") {
			in.Relayed = append(in.Relayed, a.String())
		}
	}
	for _, p := range n.mesh.Host().Network().Peers() {
		if c := n.mesh.ConnsTo(p); c.Relayed > 0 && c.Direct == 0 {
			in.RelayedPeers = append(in.RelayedPeers, p.String())
		}
	}
	n.offerInfo(&in)
	if n.api != nil {
		in.API = n.api.addr
	}
	return in
}
