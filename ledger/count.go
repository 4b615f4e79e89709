package ledger

import (
	"slices"

	"github.com/computemesh/computemesh/job"
)

// What counts. On a network with a faucet, grants are the only source of
// credit and a receipt moves credits only when it counts:
//
//   - each payer's receipts form a chain by sequence number (1, 2, 3, …);
//     receipt k counts only when receipts 1 … k−1 of its payer count;
//   - and when the payer's counted balance (granted + counted earnings −
//     counted spending) covers its amount;
//   - a sequence number the payer signed twice (a fork, which a fraud
//     proof shows) ends its chain: neither receipt at that number counts,
//     nor any after it;
//   - a sequence number may hold a receipt and its payee's claims: one of
//     them is the slot's record (slot.go).
//
// The counted receipts are the least fixed point of these rules over the
// set of records held, so they do not depend on the order records arrive
// in. A receipt that does not count (yet) is pending: a gap before it, a
// payer that cannot cover it. Counting only ever adds while records arrive
// — an arrival can only make more receipts count — except for a fork (or a
// slot's record replaced, slot.go) below a payer's counted chain, which
// revokes the receipts from the fork on and,
// through the credits their payees no longer have, any receipt of theirs
// that those credits covered (Book.recount). So every counted balance is ≥
// 0 and the counted balances sum to the credits granted, exactly.
//
// A network without a faucet has no credits: its receipts are a tally of
// work done, each counts as it arrives, and balances may be negative.

// tally reports whether the book counts every receipt (no faucet).
func (b *Book) tally() bool { return b.cfg.faucet == "" }

// spendable is a's counted balance.
func (a *account) spendable() job.Credits {
	if a.stalled { // its count stopped at a record that could not be read (slotPay)
		return min(a.granted+a.earned-a.spent, 0)
	}
	return a.granted + a.earned - a.spent
}

// counted reports whether r, a receipt in the book, counts.
func (b *Book) counted(r *entry) bool {
	if b.tally() {
		return true
	}
	a := b.accounts[r.payer]
	return a != nil && r.seq < a.next && b.slot(seqKey{r.payer, r.seq}) == r
}

// settle counts what became countable after payer's balance or chain
// changed: its next receipts while it covers them, and in turn those of
// the payees they credit. b.mu held.
func (b *Book) settle(payer string) {
	if b.tally() {
		return
	}
	work := []string{payer}
	for len(work) > 0 {
		p := work[len(work)-1]
		work = work[:len(work)-1]
		a := b.accounts[p]
		if a == nil {
			continue
		}
		for {
			amount, payee, ok := b.slotPay(seqKey{p, a.next})
			if !ok { // a gap, or a fork: the chain stops here
				break
			}
			if a.spendable() < amount {
				break
			}
			a.spent += amount
			b.accounts[payee].earned += amount
			a.next++
			b.counting++
			if amount > 0 {
				work = append(work, payee)
			}
		}
		b.markFold(p, a)
	}
}

// recount derives what counts from nothing: after a fork below a payer's
// counted chain, the only change that takes credits back. Cold slots count
// by their records (slotPay); a chain whose count now stops below its
// folded slots is thawed (cold.go: a folded slot is a counted one), the
// others stay folded — a fork anywhere must not make every holder read
// every chain back. b.mu held.
func (b *Book) recount() {
	b.counting = 0
	for _, a := range b.accounts {
		a.earned, a.spent, a.next = 0, 0, 1
		a.stalled = false
	}
	for p := range b.accounts { // every one: a receipt of 0 needs no credit
		b.settle(p)
	}
	for p, a := range b.accounts {
		if a.nCold > 0 && a.next < a.foldedTo && !a.stalled {
			if err := b.thawAccount(p, a); err != nil {
				b.cfg.log.Error("ledger: a chain whose count stops below its folded slots stays folded", "payer", p, "err", err)
			}
		}
	}
}

// Spendable returns peer's counted balance: what it can pay with (on a
// network without a faucet, its tally, which may be negative).
func (b *Book) Spendable(peer string) job.Credits {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if a := b.accounts[peer]; a != nil {
		return a.spendable()
	}
	return 0
}

// Available returns what peer can still pay with as a judge sees it: its
// counted balance less the receipts it signed after a gap in its chain
// (pending: they count once the gap fills, and meanwhile the credits are
// not free). Never negative.
func (b *Book) Available(peer string) job.Credits {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a := b.accounts[peer]
	if a == nil {
		return 0
	}
	avail := a.spendable()
	if b.tally() {
		return avail
	}
	for s, top := a.next, b.maxSeq[peer]; s <= top && s < a.next+maxAhead; s++ {
		if r := b.slot(seqKey{peer, s}); r != nil {
			avail -= r.amount
		}
	}
	return max(avail, 0)
}

// maxAhead bounds the slots past a gap that Available looks at.
const maxAhead = 1 << 16

// PendingPayers returns up to max payers of peer's incoming receipts that
// do not count (yet), each once: whose chains a judge of peer fetches.
func (b *Book) PendingPayers(peer string, max int) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a := b.accounts[peer]
	if a == nil || b.tally() {
		return nil
	}
	var out []string
	for _, r := range a.receipts {
		if r.payee == peer && !b.counted(r) && !b.superseded(r) && !slices.Contains(out, r.payer) {
			out = append(out, r.payer)
		}
	}
	slices.Sort(out) // an order that depends on nothing but the records
	return out[:min(len(out), max)]
}
