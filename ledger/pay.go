package ledger

import (
	"fmt"

	"github.com/computemesh/computemesh/job"
)

// A client's side of a payment, on its own ledger: Authorize takes the
// next slot of its chain for an attempt, before the award goes out; Pay
// fills the slot with the receipt of what the attempt cost; Void fills it
// with a receipt of nothing when the attempt never ran (declined, failed
// before it started) or its outcome is unknown (a crash): the payee's
// claim, if it ran, prevails over a void (slot.go). Each writes its
// record and returns once it is fsynced (commit.go), so that no number is
// ever used for two things nor left empty for good.

// Authorize gives a its payer's next sequence number, signs it with sign
// and keeps it durably. a's Seq and Sig are ignored.
func (l *Ledger) Authorize(a *job.Authorization, sign func([]byte) ([]byte, error)) (*job.Authorization, error) {
	var c job.Authorization
	err := l.durably(func() error {
		c = *a
		c.Seq, c.Sig = l.book.NextSeq(c.Payer), nil
		sig, err := sign(c.SigningBytes())
		if err != nil {
			return fmt.Errorf("signing the authorisation of slot %d: %w", c.Seq, err)
		}
		c.Sig = sig
		if err := l.checkOwnAuthorization(&c); err != nil {
			return err
		}
		if err := l.append(recAuth, &c); err != nil {
			return err
		}
		l.book.mu.Lock()
		defer l.book.mu.Unlock()
		l.book.ownAuth(&c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Pay makes r a receipt of its payer (this node, as a client): with r.Seq
// 0 it takes the payer's next sequence number, else it fills that slot
// (an authorisation's); it signs r with sign and keeps it durably, all
// before returning it, so that the number is never used twice (a crash
// after signing finds the receipt in the log) and never skipped (the
// receipt counts by the payer's signature alone: if the payee never
// counter-signs, the caller publishes it as it is). Paying a slot that
// already holds this node's receipt for the same attempt returns that
// receipt; for another, an error. r's signatures are ignored.
func (l *Ledger) Pay(r *job.Receipt, sign func([]byte) ([]byte, error)) (*job.Receipt, *job.FraudProof, error) {
	var out *job.Receipt
	var fraud *job.FraudProof
	err := l.durably(func() error {
		var err error
		out, fraud, err = l.pay(r, sign)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, fraud, nil
}

// pay is Pay but the sync. l.mu held.
func (l *Ledger) pay(r *job.Receipt, sign func([]byte) ([]byte, error)) (*job.Receipt, *job.FraudProof, error) {
	c := *r
	c.PayerSig, c.PayeeSig, c.Auth = nil, nil, nil
	if c.Seq == 0 {
		c.Seq = l.book.NextSeq(c.Payer)
	} else if held, err := l.held(&c); err != nil {
		return nil, nil, err
	} else if held != nil {
		if held.Job != c.Job || held.Attempt != c.Attempt || held.Payee != c.Payee {
			return nil, nil, fmt.Errorf("slot %d of %s already holds its receipt for job %s attempt %d to %s", c.Seq, c.Payer, held.Job, held.Attempt, held.Payee)
		}
		return held, nil, nil
	}
	sig, err := sign(c.SigningBytes())
	if err != nil {
		return nil, nil, fmt.Errorf("signing receipt %d: %w", c.Seq, err)
	}
	c.PayerSig = sig
	if err := l.checkSigner(c.Payer, c.SigningBytes(), c.PayerSig); err != nil {
		return nil, nil, err
	}
	fraud, err := l.keepReceipt(&c, false, false) // its signature checked above
	if err != nil {
		return nil, nil, err
	}
	return &c, fraud, nil
}

// held returns the receipt the payer signed in r's slot, if any, read
// back from the log. l.mu held.
func (l *Ledger) held(r *job.Receipt) (*job.Receipt, error) {
	l.book.mu.RLock()
	var ref *bodyRef
	k := seqKey{r.Payer, r.Seq}
	for _, o := range l.book.slotRecs(k) {
		if !o.isClaim() {
			b := o.bodyRef()
			ref = &b
			break
		}
	}
	c, cold, err := l.book.coldSlotOf(k)
	if cold && !c.claim {
		b := c.bodyRef(k.payer, k.seq)
		ref = &b
	}
	l.book.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("paying slot %d of %s: %w", r.Seq, r.Payer, err)
	}
	if ref == nil {
		return nil, nil
	}
	held, err := l.book.body(*ref)
	if err != nil {
		return nil, fmt.Errorf("paying slot %d of %s: %w", r.Seq, r.Payer, err)
	}
	return held, nil
}

// Void fills the slot of a, an authorisation this node signed, with a
// receipt of 0 for the same attempt (see Pay), unless the slot holds a
// record already (its receipt, or its payee's claim): then it returns nil.
func (l *Ledger) Void(a *job.Authorization, timeMS int64, sign func([]byte) ([]byte, error)) (*job.Receipt, error) {
	l.book.mu.RLock()
	k := seqKey{a.Payer, a.Seq}
	_, cold, err := l.book.coldSlotOf(k)
	filled := cold || len(l.book.slotRecs(k)) > 0
	l.book.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("voiding slot %d of %s: %w", a.Seq, a.Payer, err)
	}
	if filled {
		return nil, nil
	}
	r, _, err := l.Pay(&job.Receipt{V: job.Version, Network: a.Network, Job: a.Job, Attempt: a.Attempt,
		Payer: a.Payer, Payee: a.Payee, Seq: a.Seq, TimeMS: timeMS}, sign)
	return r, err
}

// Unfilled is Book.Unfilled.
func (l *Ledger) Unfilled(payer string) []job.Authorization { return l.book.Unfilled(payer) }

// seqReservation is a sequence number a payer took before signing a
// receipt with it (written by earlier versions; replayed).
type seqReservation struct {
	Payer string `json:"payer"`
	Seq   uint64 `json:"seq"`
}

// Validate checks the reservation's fields.
func (s *seqReservation) Validate() error {
	if err := job.ValidatePeer(s.Payer); err != nil {
		return fmt.Errorf("payer: %w", err)
	}
	if s.Seq == 0 || s.Seq > 1<<62 {
		return fmt.Errorf("seq: %d is out of range (1 to 2^62)", s.Seq)
	}
	return nil
}
