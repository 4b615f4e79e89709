package ledger

import (
	"github.com/computemesh/computemesh/job"
)

// CounterSign is the payee's side of a receipt: r, signed by its payer, is
// checked (its fields, the payer's signature), signed by this node as its
// payee with sign, and kept durably. It returns the counter-signed receipt,
// also with ErrDuplicate (the ledger held it counter-signed already). What
// this node signs is not verified again (checkSigner: once per account),
// nor is the payer's signature verified twice.
func (l *Ledger) CounterSign(r *job.Receipt, sign func([]byte) ([]byte, error)) (*job.Receipt, *job.FraudProof, error) {
	c := cloneReceipt(r)
	c.PayeeSig = nil
	if c.IsClaim() || len(c.PayerSig) == 0 {
		return nil, nil, reject("receipt %d of payer %s: not signed by its payer: nothing to counter-sign", c.Seq, c.Payer)
	}
	if err := c.Validate(); err != nil {
		return nil, nil, reject("receipt: %v", err)
	}
	sb := c.SigningBytes()
	if err := l.cfg.verify(c.Payer, sb, c.PayerSig); err != nil {
		return nil, nil, reject("receipt %d of payer %s: payer_sig: not the payer's signature: %v", c.Seq, c.Payer, err)
	}
	sig, err := sign(sb)
	if err != nil {
		return nil, nil, reject("counter-signing receipt %d of payer %s: %v", c.Seq, c.Payer, err)
	}
	c.PayeeSig = sig
	if err := l.checkSigner(c.Payee, sb, sig); err != nil {
		return nil, nil, err
	}
	var fraud *job.FraudProof
	err = l.durably(func() (err error) {
		fraud, err = l.keepReceipt(c, false, true) // both signatures checked above
		return err
	})
	return c, fraud, err
}
