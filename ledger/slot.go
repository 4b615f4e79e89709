package ledger

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/computemesh/computemesh/job"
)

// Slots. Each sequence number of a payer is one slot of its chain. A slot
// may hold several records of one attempt: the receipt the payer signed
// (with or without the payee's counter-signature) and claims its payee
// made on the payer's authorisation of that slot. One of them is the
// slot's record, the one that counts:
//
//   - a counter-signed receipt (payer and payee agree);
//   - else a claim (the payee's word, within what the payer authorised,
//     prevails over a receipt the payer signed alone: a client cannot
//     dodge a claim by publishing a smaller receipt of its own); of two
//     claims, the smaller;
//   - else the receipt the payer signed alone.
//
// Records the payer consented to that Conflict (two receipts, two
// authorisations, or a receipt and an authorisation of another attempt)
// fork the slot: nothing in it counts, nor anything after it.
//
// When the slot's record changes below the payer's counted chain (a fork,
// or a claim or counter-signature replacing a counted record), counting is
// derived again (Book.recount): if the new record is for more than the old
// one and the payer's balance no longer covers a later receipt, that
// receipt and whatever its payee's credits covered stop counting — the
// payer's later payees lose. An honest client never gets there: its
// receipt and its provider's claim are for the same metered charge.

// slot returns k's record, or nil: nothing there, or a fork. b.mu held.
func (b *Book) slot(k seqKey) *job.Receipt {
	rs := b.bySeq[k]
	if len(rs) == 0 || b.forked[k] {
		return nil
	}
	var alone, claim *job.Receipt
	for _, r := range rs {
		switch {
		case !r.IsClaim() && len(r.PayeeSig) > 0:
			return r
		case !r.IsClaim():
			alone = r
		case claim == nil || r.Amount < claim.Amount ||
			r.Amount == claim.Amount && bytes.Compare(r.SigningBytes(), claim.SigningBytes()) < 0:
			claim = r
		}
	}
	if claim != nil {
		return claim
	}
	return alone
}

// superseded reports whether r is in an unforked slot whose record is
// another one. b.mu held.
func (b *Book) superseded(r *job.Receipt) bool {
	k := seqKey{r.Payer, r.Seq}
	s := b.slot(k)
	return s != nil && s != r
}

// applyReceipt adds a checked receipt (or claim), which it keeps (the
// caller passes a copy), and returns a fraud proof if it conflicts with a
// record of the same slot. A receipt already held without its payee's
// signature gets it. b.mu held.
func (b *Book) applyReceipt(r *job.Receipt, id [32]byte) *job.FraudProof {
	if old := b.receipts[id]; old != nil { // the counter-signature comes
		if len(old.PayeeSig) == 0 && len(r.PayeeSig) > 0 {
			k := seqKey{old.Payer, old.Seq}
			before := b.slot(k)
			old.PayeeSig = r.PayeeSig
			b.reslot(k, before)
		}
		return nil
	}
	r.Network, r.Payer, r.Payee = b.intern(r.Network), b.intern(r.Payer), b.intern(r.Payee)
	b.receipts[id] = r
	payer, payee := b.account(r.Payer), b.account(r.Payee)
	payer.receipts = append(payer.receipts, r)
	payee.receipts = append(payee.receipts, r)
	if b.tally() {
		payer.spent += r.Amount
		payee.earned += r.Amount
	}
	if r.Seq > b.maxSeq[r.Payer] {
		b.maxSeq[r.Payer] = r.Seq
	}
	k := seqKey{r.Payer, r.Seq}
	delete(b.auths, k) // this node's own authorisation: its slot is filled
	before := b.slot(k)
	var proof *job.FraudProof
	for _, o := range b.bySeq[k] {
		if job.Conflict(o, r) {
			b.forked[k] = true
			if b.fraud[r.Payer] == nil {
				b.fraud[r.Payer] = &job.FraudProof{V: job.Version, A: *cloneReceipt(o), B: *cloneReceipt(r)}
			}
			proof = &job.FraudProof{V: job.Version, A: *cloneReceipt(o), B: *cloneReceipt(r)}
			break
		}
	}
	b.bySeq[k] = append(b.bySeq[k], r)
	b.reslot(k, before)
	return proof
}

// reslot counts what a change of slot k's record (from before) makes
// count, or derives counting again when k was counted. b.mu held.
func (b *Book) reslot(k seqKey, before *job.Receipt) {
	if b.tally() || b.slot(k) == before {
		return
	}
	switch a := b.accounts[k.payer]; {
	case k.seq < a.next:
		b.recount()
	case k.seq == a.next:
		b.settle(k.payer)
	}
}

// ownAuth remembers an authorisation this node signed whose slot is still
// empty (see Ledger.Authorize). b.mu held.
func (b *Book) ownAuth(a *job.Authorization) {
	b.reserve(a.Payer, a.Seq)
	k := seqKey{b.intern(a.Payer), a.Seq}
	if len(b.bySeq[k]) == 0 {
		c := *a
		b.auths[k] = &c
	}
}

// Unfilled returns the authorisations payer (this node) signed whose slot
// holds no record yet, by sequence number: after a crash, the attempts
// whose outcome the node no longer knows (see Ledger.Void).
func (b *Book) Unfilled(payer string) []job.Authorization {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []job.Authorization
	for k, a := range b.auths {
		if k.payer == payer {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(x, y job.Authorization) int { return cmp.Compare(x.Seq, y.Seq) })
	return out
}
