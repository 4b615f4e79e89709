package credits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/internal/owned"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

// Mesh is what a Book needs of the node's mesh; *mesh.Mesh is one.
type Mesh interface {
	Host() host.Host
	NetworkName() string
	Protocol(name string) protocol.ID
	OnLedger(h mesh.LedgerHandler) error
	PublishLedger(ctx context.Context, msg *mesh.LedgerMsg) error
	RelayRequestsFrom(allow func(author peer.ID) bool)
	ClosestPeers(ctx context.Context, key string, k int) ([]peer.ID, error)
}

// Book is a node's side of the credit ledger (see the package doc).
type Book struct {
	mesh    Mesh
	self    peer.ID
	faucet  string // "": a network without credits
	assume  bool   // AssumeComplete
	metrics Counters
	log     Logger
	now     func() time.Time // the node's clock (Clock)
	// verifier checks ledger signatures, keys decoded once (verify.go).
	verifier *Verifier

	book      *ledger.Ledger
	sync      syncState // when accounts were last synced from peers
	owed      owedBook  // as a provider: accepted runs not yet paid
	ownSynced atomic.Bool
	// Where receipts go (store.go).
	holderCache holderCache
	storeLimits peerLimits    // records sent here
	syncLimits  peerLimits    // syncs answered
	learnLimit  *rate.Limiter // unknown authors judged in the background
	pushes      chan *job.Receipt
	push        pushState

	ctx    context.Context
	cancel context.CancelFunc
	own    owned.Group // every goroutine and stream handler of the Book
}

// New opens the ledger (Dir) and starts the Book on m: it follows the
// ledger topic, serves the ledger-sync and ledger-store protocols, sends
// records to their recipients and voids the slots of this node's
// authorisations that a crash or a stop left without an outcome. ctx is
// the Book's lifetime: once it is done its background work ends and
// nothing new starts (Close then waits for what runs).
func New(ctx context.Context, m Mesh, opts ...Option) (*Book, error) {
	c, err := apply(opts)
	if err != nil {
		return nil, err
	}
	b := &Book{
		mesh: m, self: m.Host().ID(), faucet: c.faucet, assume: c.assume, metrics: c.counters, log: c.log, now: c.now,
		learnLimit:  rate.NewLimiter(learnRate, learnRate),
		storeLimits: peerLimits{rate: StoreRate, burst: StoreBurst},
		syncLimits:  peerLimits{rate: SyncRate, burst: SyncBurst},
		pushes:      make(chan *job.Receipt, pushQueue),
		push:        pushState{now: make(chan struct{}, 1)},
		verifier:    NewVerifier(),
	}
	b.owed.now = c.now
	b.ctx, b.cancel = context.WithCancel(ctx)
	context.AfterFunc(b.ctx, b.own.Stop)
	if c.fresh {
		b.ownSynced.Store(true) // a key made just now has no history to learn
	}
	if err := b.open(c.dir); err != nil {
		b.cancel()
		return nil, err
	}
	if err := b.follow(); err != nil {
		_ = b.Close()
		return nil, err
	}
	b.serve(SyncProtocol, b.serveSync)
	b.serve(StoreProtocol, b.serveStore)
	b.own.Go(b.pushLoop)
	b.voidUnfilled() // attempts a crash or a stop left without an outcome
	return b, nil
}

// open opens the ledger in dir.
func (b *Book) open(dir string) error {
	network := b.mesh.NetworkName()
	opts := []ledger.Option{ledger.WithNetwork(network),
		ledger.WithVerifier(b.verifier.Verify), ledger.WithBatchVerifier(b.verifier.VerifyBatch),
		ledger.WithLogger(slog.New(logHandler{b.log}))}
	if b.faucet != "" {
		opts = append(opts, ledger.WithFaucet(network, b.faucet))
	}
	l, err := ledger.Open(dir, opts...)
	if err != nil {
		return fmt.Errorf("credits: opening the ledger: %w", err)
	}
	b.book = l
	return nil
}

// follow gates relayed job requests on their author's balance (on a
// network with credits) and follows the ledger topic.
func (b *Book) follow() error {
	if b.faucet != "" {
		b.mesh.RelayRequestsFrom(b.CanPay)
	}
	if err := b.mesh.OnLedger(b.OnLedger); err != nil {
		return fmt.Errorf("credits: following the ledger topic: %w", err)
	}
	return nil
}

// serve handles the protocol proto with h, each stream's handler owned by
// the Book.
func (b *Book) serve(proto string, h network.StreamHandler) {
	b.mesh.Host().SetStreamHandler(b.mesh.Protocol(proto), b.own.Handler(h))
}

// Close ends the Book's background work, waits for its goroutines and
// stream handlers, and closes the ledger. The caller stops using the Book
// first.
func (b *Book) Close() error {
	b.own.Stop()
	b.cancel()
	b.own.Wait()
	if err := b.book.Close(); err != nil {
		return fmt.Errorf("credits: closing the ledger: %w", err)
	}
	return nil
}

// Ledger returns the ledger.
func (b *Book) Ledger() *ledger.Ledger { return b.book }

// CanPay reports whether this node's ledger says author could pay for a
// job: a positive balance and no fraud proof against it. On a network with
// credits, job requests relayed from authors that cannot are not handled
// or forwarded (see mesh.RelayRequestsFrom); an author it knows nothing
// of is judged in the background, so that its next ones are.
func (b *Book) CanPay(author peer.ID) bool {
	id := author.String()
	if b.book.Spendable(id) > 0 {
		return !b.book.Fraudulent(id)
	}
	b.judgeLater(author) // perhaps a grant or earnings this node never saw
	return false
}

// OnLedger adds a gossiped record (a grant or a fraud proof: receipts go
// to their holders, store.go) to the ledger.
func (b *Book) OnLedger(m *mesh.LedgerMsg, from peer.ID) {
	var err error
	switch {
	case m.Fraud != nil:
		err = b.book.AddFraud(m.Fraud)
	case m.Grant != nil:
		err = b.book.AddGrant(m.Grant)
	}
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
	case err != nil:
		b.metrics.Rejected.Inc()
		b.log.Infow("ledger: refusing a gossiped record", "peer", from, "err", err)
	}
}

// AddGrant adds a faucet's grant to the ledger and gossips it.
func (b *Book) AddGrant(ctx context.Context, g *job.Grant) error {
	if err := b.book.AddGrant(g); err != nil && !errors.Is(err, ledger.ErrDuplicate) {
		return err
	}
	return b.mesh.PublishLedger(ctx, &mesh.LedgerMsg{Grant: g})
}

// logHandler sends the ledger's slog warnings to the Book's log.
type logHandler struct{ log Logger }

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 2*r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool { kv = append(kv, a.Key, a.Value.Resolve().Any()); return true })
	if r.Level >= slog.LevelError {
		h.log.Errorw(r.Message, kv...)
	} else {
		h.log.Warnw(r.Message, kv...)
	}
	return nil
}
func (h logHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logHandler) WithGroup(string) slog.Handler      { return h }
