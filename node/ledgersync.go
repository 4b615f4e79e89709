package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Ledger sync. Gossip carries each record once, as it is made: a node that
// was not there misses it. So a node that must judge an account it holds
// too little of — a provider asked by a client whose grant came before the
// provider joined, a client started on a data dir without its own history
// (an identity moved or restored from a backup) — asks a peer for the
// records that account rests on, and verifies each one itself (AddGrant,
// AddReceipt: signatures, faucet, network). The peer is trusted with
// nothing: a record that does not verify is refused, and one it leaves out
// only makes the account look poorer (or, for a payer's own chain, is found
// by asking more peers).

const (
	syncProto = "ledger-sync"
	// maxSyncRecords bounds the records of one answer (grants and
	// receipts of one account); maxSyncAnswer its size.
	maxSyncRecords = 2048
	maxSyncAnswer  = maxSyncRecords * job.MaxReceiptSize
	// syncEvery is how often one account is synced at most.
	syncEvery = time.Minute
	syncWait  = 5 * time.Second
)

type syncRequest struct {
	V       int    `json:"v"`
	Account string `json:"account"`
}

// Validate checks the request's fields.
func (r *syncRequest) Validate() error {
	if r.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", r.V, job.Version)
	}
	if err := job.ValidatePeer(r.Account); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	return nil
}

type syncAnswer struct {
	Grants   []job.Grant   `json:"grants"`
	Receipts []job.Receipt `json:"receipts"`
}

// Validate checks the answer's size; each record is checked as it is added.
func (a *syncAnswer) Validate() error {
	if n := len(a.Grants) + len(a.Receipts); n > maxSyncRecords {
		return fmt.Errorf("grants, receipts: %d records, limit %d", n, maxSyncRecords)
	}
	return nil
}

// syncState remembers when each account was last synced.
type syncState struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether account may be synced now, and marks it.
func (s *syncState) due(account string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || len(s.last) > 16384 {
		s.last = map[string]time.Time{}
	}
	if now.Sub(s.last[account]) < syncEvery {
		return false
	}
	s.last[account] = now
	return true
}

// serveLedgerSync answers a peer's request for an account's records.
func (n *Node) serveLedgerSync(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	var req syncRequest
	if err := mesh.ReadMsg(bufio.NewReader(s), 1024, &req); err != nil {
		_ = s.Reset()
		return
	}
	gs, rs := n.book.Records(req.Account, maxSyncRecords)
	_ = mesh.WriteMsg(s, syncAnswer{Grants: gs, Receipts: rs})
}

// syncAccount asks from for account's records and adds those that verify;
// it returns how many were new.
func (n *Node) syncAccount(ctx context.Context, from peer.ID, account string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, syncWait)
	defer cancel()
	s, err := n.mesh.Host().NewStream(ctx, from, n.mesh.Protocol(syncProto))
	if err != nil {
		return 0, fmt.Errorf("asking %s for the ledger of %s: %w", from, account, err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	if err := mesh.WriteMsg(s, syncRequest{V: job.Version, Account: account}); err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("asking %s for the ledger of %s: %w", from, account, err)
	}
	var a syncAnswer
	if err := mesh.ReadMsg(bufio.NewReader(s), maxSyncAnswer, &a); err != nil {
		_ = s.Reset()
		return 0, fmt.Errorf("the ledger of %s from %s: %w", account, from, err)
	}
	added, refused := 0, 0
	for i := range a.Grants {
		switch err := n.book.AddGrant(&a.Grants[i]); {
		case err == nil:
			added++
		case !errors.Is(err, ledger.ErrDuplicate):
			refused++
		}
	}
	for i := range a.Receipts {
		fraud, err := n.book.AddReceipt(&a.Receipts[i])
		switch {
		case err == nil:
			added++
		case !errors.Is(err, ledger.ErrDuplicate):
			refused++
		}
		if fraud != nil {
			n.reportFraud(fraud)
		}
	}
	if refused > 0 {
		n.metrics.ledgerRejected.Add(float64(refused))
		log.Infof("ledger sync: %d of the records of %s that %s sent do not verify: refused", refused, account, from)
	}
	return added, nil
}

// learnAccount syncs a client's account from the client itself when this
// node holds no more than nothing of it (at most once a minute per
// account): a provider that joined after the client's grant learns it the
// first time the client asks. The client is trusted with nothing: every
// record it sends is verified.
func (n *Node) learnAccount(client peer.ID) {
	if n.cfg.Faucet == "" || n.book.Spendable(client.String()) > 0 || !n.sync.due(client.String(), time.Now()) {
		return
	}
	if _, err := n.syncAccount(n.ctx, client, client.String()); err != nil {
		log.Debugf("ledger sync: %v", err)
	}
}

// learnOwnHistory makes sure, before this node signs its first receipt
// since it started, that it knows the receipts its identity signed before:
// a key moved to a new data dir, or restored from a backup older than its
// last receipt, would otherwise sign a number again. It asks the provider
// it is paying and up to two other connected peers; one answer (even
// "nothing") is enough. If none answers and its own ledger holds none of
// its receipts, it refuses to pay, saying why, unless
// Config.AssumeLedgerComplete.
func (n *Node) learnOwnHistory(provider peer.ID) error {
	if n.ownSynced.Load() {
		return nil
	}
	self := n.ID().String()
	asked := []peer.ID{provider}
	for _, p := range n.mesh.Host().Network().Peers() {
		if len(asked) == 3 {
			break
		}
		if p != provider {
			asked = append(asked, p)
		}
	}
	var errs []error
	for _, p := range asked {
		if _, err := n.syncAccount(n.ctx, p, self); err != nil {
			errs = append(errs, err)
			continue
		}
		n.ownSynced.Store(true)
		return nil
	}
	if n.cfg.AssumeLedgerComplete || n.book.NextSeq(self) > 1 {
		n.ownSynced.Store(true)
		return nil
	}
	return fmt.Errorf("not signing a receipt: this node's ledger holds none of its own, and no peer could say which numbers it signed before (%w); if this identity never paid before, or its ledger was moved with it, start with --assume-ledger-complete", errors.Join(errs...))
}
