package ledger

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/computemesh/computemesh/job"
)

// Records returns what the book holds that peer's balance rests on: the
// grants to it and its receipts as payer or payee, at most max in all
// (grants first, then receipts as payer by sequence number, then the
// rest): what a peer that never saw them needs to judge peer (see the
// node's ledger sync).
func (b *Book) Records(peer string, max int) ([]job.Grant, []job.Receipt) {
	return b.RecordsSince(peer, 0, 0, max)
}

// RecordsSince is Records less what a judge that synced before already
// holds: peer's receipts as payer only past sequence number after (its
// counted chain there), or claims made at or after sinceMS (a payee's
// claim may come late for a counted slot, and prevails over a void), and
// its receipts as payee only made at or after sinceMS. Grants are all sent
// (few). What it leaves out can only make peer look poorer to a judge that
// lacks it, never richer: its spending past after is always sent. (The
// receipts of counted slots made since were sent again once: with many
// jobs a second, every sync of an active client carried a full page of
// records the judge held; a second receipt in a counted slot is a double
// spend, which its holders prove to everyone by gossip.)
func (b *Book) RecordsSince(peer string, after uint64, sinceMS int64, max int) ([]job.Grant, []job.Receipt) {
	gs, refs, err := b.recordsSince(peer, after, sinceMS, max)
	rs, berr := b.bodies(refs)
	if err = cmp.Or(err, berr); err != nil { // not with a Book's own stores, in memory: see Ledger.RecordsSince
		b.cfg.log.Error("ledger: reading receipts back", "peer", peer, "err", err)
	}
	return gs, rs
}

// recordsSince is RecordsSince's grants and where its receipts are.
func (b *Book) recordsSince(peer string, after uint64, sinceMS int64, max int) ([]job.Grant, []bodyRef, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a := b.accounts[peer]
	if a == nil || max <= 0 {
		return nil, nil, nil
	}
	var gs []job.Grant
	for _, g := range a.grants[:min(len(a.grants), max)] {
		c := *g
		c.Sig = slices.Clone(g.Sig)
		gs = append(gs, c)
	}
	pick := func(own, claim bool, seq uint64, timeMS int64) bool {
		return own && seq > after || timeMS >= sinceMS && (!own || claim)
	}
	var rs []listed
	for _, r := range a.receipts {
		if pick(r.payer == peer, r.isClaim(), r.seq, r.timeMS) {
			rs = append(rs, r.listed(peer))
		}
	}
	rs, err := b.coldOf(peer, rs, pick)
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(rs, func(x, y listed) int { // an order that depends on nothing but the records
		if x.own != y.own { // its own chain first
			if x.own {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(x.seq, y.seq); c != 0 {
			return c
		}
		if c := cmp.Compare(x.payer, y.payer); c != 0 {
			return c
		}
		return bytes.Compare(x.id[:], y.id[:])
	})
	out := make([]bodyRef, 0, min(len(rs), max-len(gs)))
	for _, r := range rs[:min(len(rs), max-len(gs))] {
		out = append(out, r.ref)
	}
	return gs, out, nil
}

// listed is e in a listing of peer's receipts.
func (e *entry) listed(peer string) listed {
	return listed{own: e.payer == peer, seq: e.seq, timeMS: e.timeMS, payer: e.payer, id: e.id, ref: e.bodyRef()}
}

// CountedChain returns how far peer's chain counts in this book: its
// receipts 1 … CountedChain(peer) count (a judge's After, RecordsSince).
func (b *Book) CountedChain(peer string) uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if a := b.accounts[peer]; a != nil && !b.tally() {
		return a.next - 1
	}
	return 0
}

// Receipts returns up to n of peer's receipts (as payer or payee), the most
// recent (by TimeMS, then sequence number) first. (A Book's own store, in
// memory, cannot fail to give them; a Ledger's reads its log:
// Ledger.Receipts.)
func (b *Book) Receipts(peer string, n int) []job.Receipt {
	refs, err := b.recent(peer, n)
	rs, berr := b.bodies(refs)
	if err = cmp.Or(err, berr); err != nil {
		b.cfg.log.Error("ledger: reading receipts back", "peer", peer, "err", err)
	}
	return rs
}

// recent is where Receipts' receipts are.
func (b *Book) recent(peer string, n int) ([]bodyRef, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a := b.accounts[peer]
	if a == nil || n <= 0 {
		return nil, nil
	}
	rs := make([]listed, 0, len(a.receipts))
	for _, r := range a.receipts {
		rs = append(rs, r.listed(peer))
	}
	rs, err := b.coldOf(peer, rs, func(bool, bool, uint64, int64) bool { return true })
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rs, func(x, y listed) int {
		if c := cmp.Compare(y.timeMS, x.timeMS); c != 0 {
			return c
		}
		if c := cmp.Compare(y.seq, x.seq); c != 0 {
			return c
		}
		if c := cmp.Compare(x.payer, y.payer); c != 0 {
			return c
		}
		return bytes.Compare(x.id[:], y.id[:])
	})
	out := make([]bodyRef, 0, min(n, len(rs)))
	for _, r := range rs[:min(n, len(rs))] {
		out = append(out, r.ref)
	}
	return out, nil
}
