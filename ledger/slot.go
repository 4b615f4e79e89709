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

// slot returns k's record, or nil: nothing there, or a fork. Of two
// claims for one amount, the one with the smaller ID is the record. b.mu
// held.
func (b *Book) slot(k seqKey) *entry {
	rs := b.slotRecs(k)
	if len(rs) == 0 || b.forked[k] {
		return nil
	}
	var alone, claim *entry
	for _, r := range rs {
		switch {
		case !r.isClaim() && r.cosigned:
			return r
		case !r.isClaim():
			alone = r
		case claim == nil || r.amount < claim.amount ||
			r.amount == claim.amount && bytes.Compare(r.id[:], claim.id[:]) < 0:
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
func (b *Book) superseded(r *entry) bool {
	k := seqKey{r.payer, r.seq}
	s := b.slot(k)
	return s != nil && s != r
}

// find returns the record of slot k with ID id, or nil. b.mu held.
func (b *Book) find(k seqKey, id [32]byte) *entry {
	for _, e := range b.slotRecs(k) {
		if e.id == id {
			return e
		}
	}
	return nil
}

// applyReceipt adds a checked receipt (or claim), which its store keeps
// (the caller passes a copy; loc: where the log holds it, or noLoc), and
// returns a fraud proof if it conflicts with a record of the same slot. A
// receipt already held without its payee's signature gets it. b.mu held.
func (b *Book) applyReceipt(r *job.Receipt, id [32]byte, loc int64) *job.FraudProof {
	k := seqKey{b.intern(r.Payer), r.Seq}
	if old := b.find(k, id); old != nil { // the counter-signature comes
		if !old.cosigned && len(r.PayeeSig) > 0 {
			before := b.slot(k)
			old.cosigned, old.ref = true, b.store.keep(r, loc)
			b.reslot(k, before)
		}
		return nil
	}
	r.Network, r.Payer, r.Payee = b.intern(r.Network), k.payer, b.intern(r.Payee)
	e := newEntry(r, id)
	e.ref = b.store.keep(r, loc)
	b.nReceipts++
	payer, payee := b.account(e.payer), b.account(e.payee)
	payer.receipts = append(payer.receipts, e)
	payee.receipts = append(payee.receipts, e)
	if b.tally() {
		payer.spent += e.amount
		payee.earned += e.amount
	}
	if e.seq > b.maxSeq[e.payer] {
		b.maxSeq[e.payer] = e.seq
	}
	delete(b.auths, k) // this node's own authorisation: its slot is filled
	before := b.slot(k)
	var proof *job.FraudProof
	for _, o := range b.slotRecs(k) {
		if conflict(o, e) {
			b.forked[k] = true
			proof = b.fraudProof(o, r)
			break
		}
	}
	b.addRec(k, e)
	b.reslot(k, before)
	return proof
}

// fraudProof returns the proof that o, a record of the book, and r, the
// receipt being added, conflict, and keeps the first against their payer.
// When o's body cannot be read back (a damaged log), the payer is marked
// all the same and the proof is nil. b.mu held.
func (b *Book) fraudProof(o *entry, r *job.Receipt) *job.FraudProof {
	first, err := b.body(o.bodyRef())
	if err != nil {
		b.cfg.log.Error("ledger: a double spend without its proof: the other receipt cannot be read back",
			"payer", r.Payer, "seq", r.Seq, "err", err)
		if _, ok := b.fraud[r.Payer]; !ok {
			b.fraud[r.Payer] = nil
		}
		return nil
	}
	if b.fraud[r.Payer] == nil {
		b.fraud[r.Payer] = &job.FraudProof{V: job.Version, A: *cloneReceipt(first), B: *cloneReceipt(r)}
	}
	return &job.FraudProof{V: job.Version, A: *first, B: *cloneReceipt(r)}
}

// reslot counts what a change of slot k's record (from before) makes
// count, or derives counting again when k was counted. b.mu held.
func (b *Book) reslot(k seqKey, before *entry) {
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
	if len(b.slotRecs(k)) == 0 {
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
