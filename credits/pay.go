package credits

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Claim is a provider's payment for a run whose receipt did not come (the
// client went away, cancelled, or sent a wrong one): it signs a claim of
// min(amount, authorised maximum) on the client's authorisation, which
// fills the slot of the client's chain that the authorisation took, keeps
// it and sends it to its recipients (the client among them).
func (b *Book) Claim(a *job.Award, amount job.Credits, why string) {
	auth := a.Auth
	if b.faucet == "" || auth == nil || auth.Seq == 0 {
		return
	}
	c := &job.Receipt{V: job.Version, Network: auth.Network, Job: a.Job, Attempt: a.Attempt, Payer: auth.Payer,
		Payee: b.self.String(), Amount: min(amount, auth.Max), Seq: auth.Seq, TimeMS: b.now().UnixMilli(), Auth: auth}
	sig, err := b.Sign(c.SigningBytes())
	if err != nil {
		b.log.Errorw("ledger: signing a claim", "job", a.Job, "attempt", a.Attempt, "err", err)
		return
	}
	c.PayeeSig = sig
	fraud, err := b.book.AddReceipt(c)
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) {
		b.log.Errorw("ledger: keeping a claim", "job", a.Job, "attempt", a.Attempt, "err", err)
		return
	}
	if fraud != nil {
		b.reportFraud(fraud)
	}
	b.owed.settle(a.Job, a.Attempt)
	b.metrics.Claims.Inc()
	b.log.Infow("ledger: claimed on the authorisation", "job", a.Job, "attempt", a.Attempt, "amount", c.Amount, "payer", auth.Payer, "seq", auth.Seq, "reason", why)
	b.PushRecord(c)
}

// VoidUnpaid fills the slot of an attempt this node authorised and did not
// pay (declined, failed, never answered, cancelled) with a receipt of 0;
// the provider's claim, if it ran, prevails over it.
func (b *Book) VoidUnpaid(auth *job.Authorization) {
	if b.faucet == "" || auth == nil || auth.Seq == 0 {
		return
	}
	r, err := b.book.Void(auth, b.now().UnixMilli(), b.Sign)
	if err != nil {
		b.log.Errorw("ledger: voiding a slot", "job", auth.Job, "attempt", auth.Attempt, "seq", auth.Seq, "err", err)
		return
	}
	if r != nil {
		b.PushRecord(r)
	}
}

// voidUnfilled voids, at start, the slots of this node's authorisations
// whose outcome a crash or a stop lost.
func (b *Book) voidUnfilled() {
	for _, a := range b.book.Unfilled(b.self.String()) {
		b.VoidUnpaid(&a)
	}
}

// reportFraud gossips a double spend this node found.
func (b *Book) reportFraud(p *job.FraudProof) {
	b.log.Warnw("ledger: a payer signed two receipts with one sequence number: refusing its awards from now on", "payer", p.A.Payer, "seq", p.A.Seq)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if err := b.mesh.PublishLedger(ctx, &mesh.LedgerMsg{Fraud: p}); err != nil {
		b.log.Debugw("ledger: gossiping a fraud proof", "err", err)
	}
}

// Funded says why a client may not be served on this network (its
// balance in this node's ledger below price plus what its standing bids
// here already commit, or a double spend on record), or "" when it may.
// Networks without a faucet have no balances to check.
func (b *Book) Funded(client string, committed, price job.Credits) string {
	if b.faucet == "" {
		return ""
	}
	if b.book.Fraudulent(client) {
		return fmt.Sprintf("client %s signed two receipts with one sequence number (fraud proof held): refused", client)
	}
	avail := b.book.Available(client) // its pending spending (after a gap) is not free
	switch {
	case committed > 0 && avail < committed+price:
		return fmt.Sprintf("client %s has %s credits in this provider's ledger, its standing bids and unpaid runs here commit %s, the price is %s", client, avail, committed, price)
	case avail < price:
		return fmt.Sprintf("client %s has %s credits in this provider's ledger, the price is %s", client, avail, price)
	}
	return ""
}

// Authorize signs the client's promise to pay at most max for an attempt.
// On a network with credits it takes the next slot of this node's chain,
// durably (see ledger.Ledger.Authorize): the attempt's receipt, its void or
// the provider's claim fills it. Before the first slot since the start it
// learns this node's own history from its peers (ctx bounds that).
func (b *Book) Authorize(ctx context.Context, a *job.Award, max job.Credits) (*job.Authorization, error) {
	auth := &job.Authorization{
		V: job.Version, Network: b.mesh.NetworkName(), Job: a.Job, Attempt: a.Attempt, Payer: b.self.String(),
		Payee: a.Bid.Provider, Max: max, ExpiresMS: b.now().Add(a.Spec.Timeout() + 10*time.Minute).UnixMilli(),
	}
	if b.faucet != "" {
		p, err := peer.Decode(a.Bid.Provider)
		if err != nil {
			return nil, fmt.Errorf("bidder ID %q: %w", a.Bid.Provider, err)
		}
		if err := b.learnOwnHistory(ctx, p); err != nil {
			return nil, err
		}
		return b.book.Authorize(auth, b.Sign)
	}
	sig, err := b.Sign(auth.SigningBytes())
	if err != nil {
		return nil, err
	}
	auth.Sig = sig
	return auth, nil
}

// CheckAuthorization checks an award's spending authorisation: signed by
// the client, for this attempt, to this provider, covering pay, unexpired.
// It returns why it does not hold, or "".
func (b *Book) CheckAuthorization(a *job.Award, client peer.ID, pay job.Credits) string {
	auth := a.Auth
	switch {
	case auth == nil:
		return "no spending authorisation: this network has credits, and its providers require one"
	case auth.Payer != client.String() || auth.Payee != b.self.String():
		return fmt.Sprintf("the authorisation is from %s to %s, not from the client to this provider", auth.Payer, auth.Payee)
	case auth.Job != a.Job || auth.Attempt != a.Attempt || auth.Network != b.mesh.NetworkName():
		return "the authorisation is for another job, attempt or network"
	case auth.Max < pay:
		return fmt.Sprintf("the authorisation covers %s credits, the pay is %s", auth.Max, pay)
	case b.now().UnixMilli() > auth.ExpiresMS:
		return "the authorisation has expired"
	case auth.Seq == 0:
		return "the authorisation takes no slot of the client's chain (seq 0): this network has credits, and a provider's claim needs one"
	}
	if err := b.book.VerifyAuthorization(auth); err != nil {
		return "the authorisation: " + err.Error()
	}
	return ""
}
