package credits

import (
	"context"
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The signing side of the award protocol's last step (the stream side is
// package award's): the client signs a receipt for the charge, the
// provider counter-signs it, and both keep it and send it to its holders.
// *Book is an award.Payer and an award.Payee.

// SignReceipt is the client's side of settling an attempt: sign a receipt
// for the charge in the slot its authorisation took and keep it (durably,
// before anything else: the number is then never used twice nor skipped).
// ctx bounds learning this node's own history first.
func (b *Book) SignReceipt(ctx context.Context, a *job.Award, charge job.Credits) (*job.Receipt, error) {
	provider, err := peer.Decode(a.Bid.Provider)
	if err != nil {
		return nil, fmt.Errorf("the award's provider %q: %w", a.Bid.Provider, err)
	}
	if err := b.learnOwnHistory(ctx, provider); err != nil {
		return nil, err
	}
	var seq uint64 // the slot the authorisation took (none: the next)
	if a.Auth != nil {
		seq = a.Auth.Seq
	}
	rc, fraud, err := b.book.Pay(&job.Receipt{
		V: job.Version, Network: b.mesh.NetworkName(), Job: a.Job, Attempt: a.Attempt, Payer: b.self.String(),
		Payee: a.Bid.Provider, Amount: charge, Seq: seq, TimeMS: b.now().UnixMilli(),
	}, b.Sign)
	if err != nil {
		return nil, fmt.Errorf("signing the receipt: %w", err)
	}
	if fraud != nil {
		b.reportFraud(fraud) // this node's own history was incomplete
	}
	return rc, nil
}

// CheckCounterSigned checks that back is the receipt sent, counter-signed
// by its payee.
func (b *Book) CheckCounterSigned(sent, back *job.Receipt) error {
	signed := *back
	signed.PayeeSig = nil
	if string(signed.SigningBytes()) != string(sent.SigningBytes()) || string(back.PayerSig) != string(sent.PayerSig) {
		return errors.New("the counter-signed receipt is not the one sent")
	}
	if err := b.verifier.Verify(back.Payee, back.SigningBytes(), back.PayeeSig); err != nil {
		return fmt.Errorf("the counter-signature: %w", err)
	}
	return nil
}

// CounterSign is the provider's side: check the client's receipt for this
// attempt against the result's charge, counter-sign it and keep it in the
// ledger (durably) before it is acknowledged.
func (b *Book) CounterSign(rc *job.Receipt, a *job.Award, client peer.ID, charge job.Credits) error {
	if err := b.checkReceiptFields(rc, a, client, charge); err != nil {
		return err
	}
	signed, fraud, err := b.book.CounterSign(rc, b.Sign)    // the client's signature checked there
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) { // the client's gossip may come first
		return fmt.Errorf("receipt: %w", err)
	}
	rc.PayeeSig = signed.PayeeSig
	if fraud != nil {
		b.reportFraud(fraud)
	}
	return nil
}

// checkReceiptFields checks a client's receipt against the attempt and its
// result (not the client's signature: the ledger checks it).
func (b *Book) checkReceiptFields(rc *job.Receipt, a *job.Award, client peer.ID, charge job.Credits) error {
	switch {
	case rc.Network != b.mesh.NetworkName():
		return fmt.Errorf("receipt for network %q, not %q", rc.Network, b.mesh.NetworkName())
	case rc.Job != a.Job || rc.Attempt != a.Attempt:
		return fmt.Errorf("receipt for job %s attempt %d, not %s attempt %d", rc.Job, rc.Attempt, a.Job, a.Attempt)
	case rc.Payer != client.String() || rc.Payee != b.self.String():
		return fmt.Errorf("receipt from %s to %s, not from the client %s to this provider", rc.Payer, rc.Payee, client)
	case rc.Amount != charge:
		return fmt.Errorf("receipt for %s credits, the charge is %s", rc.Amount, charge)
	case a.Auth != nil && a.Auth.Seq != 0 && rc.Seq != a.Auth.Seq:
		return fmt.Errorf("receipt with sequence number %d, the authorisation took %d", rc.Seq, a.Auth.Seq)
	}
	return nil
}
