package node

import (
	"context"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/credits"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// The node's side of the credit ledger is package credits (n.credits);
// what follows is its API here.

// VerifySignature checks sig over data against the public key in the peer
// ID signer (the ledger's Verifier).
func VerifySignature(signer string, data, sig []byte) error {
	return credits.VerifySignature(signer, data, sig)
}

// SignGrant makes a grant of amount to peer to, signed by the faucet key
// (in export format), for network.
func SignGrant(faucetKey []byte, network, to string, amount job.Credits) (*job.Grant, error) {
	return credits.SignGrant(faucetKey, network, to, amount)
}

// AddGrant adds a faucet's grant to this node's ledger and gossips it.
func (n *Node) AddGrant(ctx context.Context, g *job.Grant) error { return n.credits.AddGrant(ctx, g) }

// Credits returns this node's balance and recent receipts.
func (n *Node) Credits(recent int) api.Credits {
	self := n.ID().String()
	rs, err := n.book.Receipts(self, recent)
	if err != nil { // a damaged log: the balance and counts, without them
		log.Errorw("credits: reading the receipts", "err", err)
	}
	return api.Credits{Peer: self, Balance: n.book.Balance(self), Receipts: rs, Ledger: n.book.Stats()}
}

// Ledger returns the node's ledger.
func (n *Node) Ledger() *ledger.Ledger { return n.book }
