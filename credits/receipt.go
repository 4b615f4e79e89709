package credits

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The last step of the award protocol, on the award stream once the
// result is in: the client signs a receipt for the charge, the provider
// counter-signs it, and both keep it and send it to its holders.

// receiptWait is how long a provider waits for its client's receipt after
// the result, and a client for the counter-signature.
const receiptWait = 30 * time.Second

// MaxReceiptOffer bounds the client's receipt message.
const MaxReceiptOffer = 4 << 10

// receiptOffer is the client's receipt, signed by it alone, as it sends it
// to the provider after the result.
type receiptOffer struct {
	Receipt job.Receipt `json:"receipt"`
}

// Validate checks the offer: every field, and the payer's signature present.
func (o *receiptOffer) Validate() error {
	if err := o.Receipt.ValidateUnsigned(); err != nil {
		return err
	}
	if len(o.Receipt.PayerSig) == 0 {
		return fmt.Errorf("payer_sig: missing")
	}
	if len(o.Receipt.PayeeSig) != 0 {
		return fmt.Errorf("payee_sig: the payee signs, not the payer")
	}
	return nil
}

// PayReceipt is the client's side of settling an attempt: sign a receipt
// for the charge in the slot its authorisation took and keep it (durably,
// before anything else: the number is then never used twice nor skipped),
// send it on the award stream st (read through r), check the provider's
// counter-signature and send the receipt to its holders. Signed, the
// receipt pays: if the provider does not counter-sign it, the client
// sends it as it is (the provider's claim, if it makes one, prevails over
// it). ctx bounds learning this node's own history first.
func (b *Book) PayReceipt(ctx context.Context, st network.Stream, r *bufio.Reader, a *job.Award, charge job.Credits) error {
	if err := b.learnOwnHistory(ctx, st.Conn().RemotePeer()); err != nil {
		return err
	}
	var seq uint64 // the slot the authorisation took (none: the next)
	if a.Auth != nil {
		seq = a.Auth.Seq
	}
	rc, fraud, err := b.book.Pay(&job.Receipt{
		V: job.Version, Network: b.mesh.NetworkName(), Job: a.Job, Attempt: a.Attempt, Payer: b.self.String(),
		Payee: a.Bid.Provider, Amount: charge, Seq: seq, TimeMS: time.Now().UnixMilli(),
	}, b.Sign)
	if err != nil {
		return fmt.Errorf("signing the receipt: %w", err)
	}
	if fraud != nil {
		b.reportFraud(fraud) // this node's own history was incomplete
	}
	back, err := b.CounterSigned(st, r, rc)
	if err != nil {
		b.PushRecord(rc) // signed, it pays: its holders need it
		return err
	}
	b.PushRecord(back)
	return nil
}

// CounterSigned sends the client's signed receipt to the provider and
// returns it counter-signed.
func (b *Book) CounterSigned(st network.Stream, r *bufio.Reader, rc *job.Receipt) (*job.Receipt, error) {
	_ = st.SetDeadline(time.Now().Add(receiptWait))
	if err := mesh.WriteMsg(st, receiptOffer{Receipt: *rc}); err != nil {
		return nil, fmt.Errorf("sending the receipt: %w", err)
	}
	var reply job.Reply
	if err := mesh.ReadMsg(r, job.MaxReplySize, &reply); err != nil {
		return nil, fmt.Errorf("waiting for the counter-signed receipt: %w", err)
	}
	if reply.Type != job.ReplyReceipt || reply.Receipt == nil {
		return nil, fmt.Errorf("a %q reply instead of the counter-signed receipt", reply.Type)
	}
	back := *reply.Receipt
	signed := back
	signed.PayeeSig = nil
	if string(signed.SigningBytes()) != string(rc.SigningBytes()) || string(back.PayerSig) != string(rc.PayerSig) {
		return nil, errors.New("the counter-signed receipt is not the one sent")
	}
	if err := VerifySignature(back.Payee, back.SigningBytes(), back.PayeeSig); err != nil {
		return nil, fmt.Errorf("the counter-signature: %w", err)
	}
	return &back, nil
}

// TakeReceipt is the provider's side: read the client's receipt for this
// attempt from the award stream s (through br), check it against the
// result, counter-sign it, keep it in the ledger (durably) before
// acknowledging it, answer and send it to its holders.
func (b *Book) TakeReceipt(s network.Stream, br *bufio.Reader, a *job.Award, client peer.ID, charge job.Credits) error {
	_ = s.SetDeadline(time.Now().Add(receiptWait))
	var o receiptOffer
	if err := mesh.ReadMsg(br, MaxReceiptOffer, &o); err != nil {
		return fmt.Errorf("reading the receipt: %w", err)
	}
	rc := o.Receipt
	if err := b.checkReceipt(&rc, a, client, charge); err != nil {
		return err
	}
	sig, err := b.Sign(rc.SigningBytes())
	if err != nil {
		return err
	}
	rc.PayeeSig = sig
	fraud, err := b.book.AddReceipt(&rc)
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) { // the client's gossip may come first
		return fmt.Errorf("keeping the receipt: %w", err)
	}
	if fraud != nil {
		b.reportFraud(fraud)
	}
	if err := mesh.WriteMsg(s, job.Reply{Type: job.ReplyReceipt, Receipt: &rc}); err != nil {
		return fmt.Errorf("returning the counter-signed receipt: %w", err)
	}
	b.PushRecord(&rc)
	return nil
}

// checkReceipt checks a client's receipt against the attempt and its
// result, and the client's signature.
func (b *Book) checkReceipt(rc *job.Receipt, a *job.Award, client peer.ID, charge job.Credits) error {
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
	if err := VerifySignature(rc.Payer, rc.SigningBytes(), rc.PayerSig); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	return nil
}
