package ledger

import "github.com/computemesh/computemesh/job"

// Where a book finds a slot's records. Most slots hold one record, and a
// payer's sequence numbers are dense from 1: each account keeps its
// chain's records in a slice indexed by sequence number (a pointer a slot,
// where a map of slots cost about ten times that). A slot holding more
// than one record (a receipt and a claim, a fork) keeps them all in
// Book.multi, and so does a slot far past the end of its payer's chain
// (more than denseGap on: a payer signing a number out of reach cannot
// make the book grow a slice to it).

// denseGap bounds how far past the end of a payer's chain a slot is still
// kept in its slice (the empty slots between cost a pointer each).
const denseGap = 64

// slotRecs returns the records of slot k; the slice is the book's, read
// only. b.mu held.
func (b *Book) slotRecs(k seqKey) []*entry {
	if rs, ok := b.multi[k]; ok {
		return rs
	}
	a := b.accounts[k.payer]
	if a == nil || k.seq == 0 || k.seq > uint64(len(a.chain)) || a.chain[k.seq-1] == nil {
		return nil
	}
	return a.chain[k.seq-1 : k.seq : k.seq] // capped: an append never writes into the chain
}

// addRec adds e to slot k (k.payer interned, its account made). b.mu held.
func (b *Book) addRec(k seqKey, e *entry) {
	if rs, ok := b.multi[k]; ok {
		b.multi[k] = append(rs, e)
		return
	}
	a := b.accounts[k.payer]
	n := uint64(len(a.chain))
	switch i := k.seq - 1; {
	case k.seq == 0 || i >= n+denseGap:
		b.multi[k] = []*entry{e}
	case i < n && a.chain[i] != nil:
		b.multi[k] = []*entry{a.chain[i], e}
	default:
		for uint64(len(a.chain)) <= i {
			a.chain = append(a.chain, nil)
		}
		a.chain[i] = e
	}
}

func (b *Book) total(peer string, f func(*account) job.Credits) job.Credits {
	if a := b.accounts[peer]; a != nil {
		return f(a)
	}
	return 0
}

func (b *Book) intern(s string) string {
	if v, ok := b.strs[s]; ok {
		return v
	}
	b.strs[s] = s
	return s
}

func (b *Book) account(peer string) *account {
	a := b.accounts[peer]
	if a == nil {
		a = &account{next: 1}
		b.accounts[peer] = a
	}
	return a
}
