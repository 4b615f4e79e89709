package ledger

import (
	"errors"
	"fmt"
	"sort"

	"github.com/computemesh/computemesh/job"
)

// Cold slots: memory that stays flat as receipts accumulate. A node that
// holds an account's receipts (a holder, a busy client or provider) would
// otherwise keep an entry of every receipt it ever saw (about 180 bytes
// with its indexes, entry.go). Once a payer's chain counts well past a
// slot, nothing judges that slot again unless another record for it
// arrives (a double spend) or counting is derived again (Book.recount). So
// the book folds the counted slots of each payer's chain more than
// foldKeep behind its end, foldBatch at a time: each slot's record (what
// counting needs: amount, payee; what listing needs: time, whether it is
// a claim, where the body is; and its ID) goes to the book's cold store
// (coldstore.go: for a Ledger, a file), the entry goes, and the book keeps
// a pointer of the slot's in the chain and a coldRun of the fold's. The
// body stays where it was (the log).
//
//   - Only a slot with a single record, counter-signed (or a claim),
//     neither forked nor in Book.multi, is folded; the others stay as they
//     are (holes in the cold part of the chain).
//   - A record arriving for a cold slot is compared with the slot's record,
//     read back: the same receipt (by ID) is a duplicate; another one thaws
//     the payer's chain (every cold slot becomes an entry again, its body
//     read back and checked) before it is checked again (errThaw), so
//     conflicts are judged on entries as before.
//   - Book.recount (a fork below a counted chain, which may take credits
//     back from any account) counts cold slots by their records, and
//     thaws the chains whose count then stops below their folded slots: a
//     cold slot is a counted one. Should a record not read back, its
//     payer's count stops before it and the payer can spend nothing
//     (account.stalled), logged.
//   - Listings (Balance's counts, Records, Receipts) include cold slots.
//
// A Book on its own folds too (its stores keep the bodies and the records
// in memory), so that one set of tests covers both.

// coldSlot is what a book keeps of a folded slot's record, decoded from
// its cold store (coldstore.go).
type coldSlot struct {
	id     [32]byte // its receipt's ID: a replay is told without reading the body
	ref    int64    // where the book's store keeps the body
	amount job.Credits
	timeMS int64
	payee  string // interned
	claim  bool
}

// Default folding: the last foldKeep counted slots of a chain stay
// entries; folding runs once foldBatch more count.
const (
	defaultFoldKeep  = 256
	defaultFoldBatch = 256
)

// errThaw: the record's slot is cold and holds another record; the caller
// thaws the slot's payer (the error is a *needThaw naming it) and checks
// the record again.
var errThaw = errors.New("ledger: the slot is folded: thaw first")

// needThaw is errThaw for one payer's chain.
type needThaw struct{ payer string }

func (e *needThaw) Error() string {
	return "ledger: a folded slot of payer " + e.payer + " holds another record: thaw first"
}

func (e *needThaw) Is(target error) bool { return target == errThaw }

// thawOf returns the payer whose chain err asks to thaw, if it does.
func thawOf(err error) (string, bool) {
	var nt *needThaw
	if errors.As(err, &nt) {
		return nt.payer, true
	}
	return "", false
}

// coldAt returns payer a's cold slot seq, if seq is cold. b.mu held.
func (b *Book) coldAt(a *account, seq uint64) (coldSlot, bool, error) {
	if a == nil || a.nCold == 0 || seq == 0 || seq >= a.foldedTo {
		return coldSlot{}, false, nil
	}
	if seq <= uint64(len(a.chain)) && a.chain[seq-1] != nil {
		return coldSlot{}, false, nil // an entry: not folded, or thawed
	}
	i := sort.Search(len(a.cold), func(i int) bool { return a.cold[i].to > seq })
	if i == len(a.cold) || a.cold[i].from > seq {
		return coldSlot{}, false, nil
	}
	r := a.cold[i]
	var p [coldRecLen]byte
	if err := b.cold.read(p[:], r.off+int64(seq-r.from)*coldRecLen); err != nil {
		return coldSlot{}, false, fmt.Errorf("%w: %w", errColdStore, err)
	}
	return b.decodeCold(p[:])
}

// coldSlotOf returns slot k's cold record, if k is cold. b.mu held.
func (b *Book) coldSlotOf(k seqKey) (coldSlot, bool, error) {
	return b.coldAt(b.accounts[k.payer], k.seq)
}

// bodyRef is where c's body is, checked against its ID as an entry's.
func (c coldSlot) bodyRef(payer string, seq uint64) bodyRef {
	return bodyRef{id: c.id, payer: payer, seq: seq, ref: c.ref, cosigned: true}
}

// checkCold is checkReceipt's step for a record whose slot k may be cold:
// ErrDuplicate for the slot's own record (by its ID); cold reports
// another record for a cold slot, which the caller answers with errThaw
// once the record's signatures are verified (a forged record must not make
// a book thaw), so that the slot's payer is thawed and the record checked
// again. b.mu held (read).
func (b *Book) checkCold(k seqKey, id [32]byte) (cold bool, err error) {
	if b.nCold == 0 {
		return false, nil
	}
	c, ok, err := b.coldSlotOf(k)
	switch {
	case err != nil:
		return false, fmt.Errorf("receipt %d of payer %s: %w", k.seq, k.payer, err)
	case !ok:
		return false, nil
	case c.id == id:
		return false, fmt.Errorf("receipt %d of payer %s: %w", k.seq, k.payer, ErrDuplicate)
	}
	return true, nil
}

// markFold notes that payer's chain may have slots to fold. b.mu held.
func (b *Book) markFold(payer string, a *account) {
	if !a.dueFold && a.next >= max(a.foldedTo, 1)+b.cfg.foldKeep+b.cfg.foldBatch {
		a.dueFold = true
		b.due = append(b.due, payer)
	}
}

// foldDue folds the chains markFold noted. It runs at the end of an
// operation (after a whole batch is applied: a batch's records are checked
// before any is applied, so no slot may go cold in between). b.mu held.
func (b *Book) foldDue() {
	for _, p := range b.due {
		if a := b.accounts[p]; a != nil {
			a.dueFold = false
			b.fold(p, a)
		}
	}
	b.due = b.due[:0]
}

// fold folds payer's counted slots from a.foldedTo to foldKeep behind
// the end of its counted chain: their records go to the cold store, their
// entries go. Should the store fail (a full disk), they stay entries.
// b.mu held.
func (b *Book) fold(payer string, a *account) {
	if b.tally() || a.next <= b.cfg.foldKeep {
		return
	}
	from, top := max(a.foldedTo, 1), min(a.next-b.cfg.foldKeep, uint64(len(a.chain))+1)
	if from >= top {
		return
	}
	a.foldedTo = top
	recs := make([]byte, int(top-from)*coldRecLen)
	var folded []*entry
	for s := from; s < top; s++ {
		k := seqKey{payer, s}
		e := a.chain[s-1]
		if _, multi := b.multi[k]; multi || b.forked[k] || e == nil || !e.cosigned {
			continue
		}
		c := coldSlot{id: e.id, ref: e.ref, amount: e.amount, timeMS: e.timeMS, payee: e.payee, claim: e.isClaim()}
		coldRecord(recs[(s-from)*coldRecLen:], c, b.payeeIndex(e.payee))
		folded = append(folded, e)
	}
	if len(folded) == 0 {
		return
	}
	off, err := b.cold.add(recs)
	if err != nil {
		b.cfg.log.Warn("ledger: slots stay in memory, not folded", "payer", payer, "from", from, "to", top, "err", err)
		return
	}
	a.cold = append(a.cold, coldRun{from: from, to: top, off: off})
	touched := map[string]*account{}
	for _, e := range folded {
		a.chain[e.seq-1], e.folded = nil, true
		a.nCold++
		b.nCold++
		pa := b.accounts[e.payee]
		pa.coldIn++
		touched[e.payee] = pa
	}
	a.receipts = dropFolded(a.receipts)
	for _, pa := range touched {
		pa.receipts = dropFolded(pa.receipts)
	}
}

// dropFolded removes the folded entries of rs, in place.
func dropFolded(rs []*entry) []*entry {
	kept := rs[:0]
	for _, e := range rs {
		if !e.folded {
			kept = append(kept, e)
		}
	}
	clear(rs[len(kept):])
	return kept
}

// thawing runs check, and once more after thawing the book when check
// found a record for a cold slot (errThaw). b.mu held.
func thawing[T any](b *Book, check func() (T, error)) (T, error) {
	v, err := check()
	payer, ok := thawOf(err)
	if !ok {
		return v, err
	}
	if err := b.thawPayerLocked(payer); err != nil {
		var zero T
		return zero, err
	}
	return check()
}

// checked runs check with the book read-locked, and once more after
// thawing the book when check found a record for a cold slot (cold.go).
// l.mu held.
func (l *Ledger) checked(check func() ([32]byte, error)) ([32]byte, error) {
	l.book.mu.RLock()
	id, err := check()
	l.book.mu.RUnlock()
	payer, ok := thawOf(err)
	if !ok {
		return id, err
	}
	if err := l.book.thaw(payer); err != nil {
		return id, err
	}
	l.book.mu.RLock()
	defer l.book.mu.RUnlock()
	return check()
}

// thaw makes payer's cold slots entries again (see errThaw).
func (b *Book) thaw(payer string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.thawPayerLocked(payer)
}

// thawPayerLocked makes payer's cold slots entries again. b.mu held.
func (b *Book) thawPayerLocked(payer string) error {
	if a := b.accounts[payer]; a != nil && a.nCold > 0 {
		return b.thawAccount(payer, a)
	}
	return nil
}

// thawAccount makes payer p's cold slots entries again. b.mu held.
func (b *Book) thawAccount(p string, a *account) error {
	for len(a.cold) > 0 {
		r := a.cold[0]
		recs := make([]byte, int(r.to-r.from)*coldRecLen)
		if err := b.cold.read(recs, r.off); err != nil {
			return fmt.Errorf("ledger: thawing the folded slots of payer %s: %w", p, err)
		}
		for s := r.from; s < r.to; s++ {
			c, ok, err := b.decodeCold(recs[(s-r.from)*coldRecLen:])
			if err == nil && ok {
				err = b.thawSlot(p, a, s, c)
			}
			if err != nil {
				return fmt.Errorf("ledger: thawing the folded slots of payer %s: %w", p, err)
			}
		}
		a.cold = a.cold[1:]
	}
	a.cold, a.foldedTo = nil, 1
	return nil
}

// thawSlot makes p's cold slot seq, c, an entry again, its body read back
// and checked. b.mu held.
func (b *Book) thawSlot(p string, a *account, seq uint64, c coldSlot) error {
	if a.chain[seq-1] != nil { // thawed already: a run read again after an error
		return nil
	}
	r, err := b.body(c.bodyRef(p, seq))
	if err != nil {
		return err
	}
	r.Network, r.Payer, r.Payee = b.intern(r.Network), p, c.payee
	e := newEntry(r, c.id)
	e.ref = c.ref
	a.chain[seq-1] = e
	a.nCold--
	b.nCold--
	pa := b.accounts[c.payee]
	pa.coldIn--
	a.receipts = append(a.receipts, e)
	pa.receipts = append(pa.receipts, e)
	return nil
}

// slotPay returns what slot k's record pays (amount, payee), cold or not;
// ok is false for an empty or forked slot. b.mu held.
func (b *Book) slotPay(k seqKey) (amount job.Credits, payee string, ok bool) {
	if r := b.slot(k); r != nil {
		return r.amount, r.payee, true
	}
	if b.forked[k] {
		return 0, "", false
	}
	c, ok, err := b.coldSlotOf(k)
	if err != nil {
		// Its payer's later receipts cannot count: it must not look richer
		// for it (Available), so it can spend nothing until it is counted
		// again (a recount, the replay of the next Open).
		b.cfg.log.Error("ledger: a folded slot cannot be read: its payer's count stops before it, and the payer can spend nothing", "payer", k.payer, "seq", k.seq, "err", err)
		b.accounts[k.payer].stalled = true
	}
	return c.amount, c.payee, ok
}

// coldOf appends to out the bodies of peer's cold slots that pick keeps:
// as payer (own) and as payee (!own). b.mu held.
func (b *Book) coldOf(peer string, out []listed, pick func(own, claim bool, seq uint64, timeMS int64) bool) ([]listed, error) {
	if b.nCold == 0 {
		return out, nil
	}
	own := b.accounts[peer]
	if own != nil && own.nCold > 0 {
		err := b.eachCold(own, func(s uint64, c coldSlot) {
			if pick(true, c.claim, s, c.timeMS) {
				out = append(out, listed{own: true, seq: s, timeMS: c.timeMS, payer: peer, id: c.id, ref: c.bodyRef(peer, s)})
			}
		})
		if err != nil {
			return out, fmt.Errorf("ledger: listing the folded slots of %s: %w", peer, err)
		}
	}
	if own == nil || own.coldIn == 0 {
		return out, nil
	}
	for p, a := range b.accounts {
		if a.nCold == 0 || p == peer {
			continue
		}
		err := b.eachCold(a, func(s uint64, c coldSlot) {
			if c.payee == peer && pick(false, c.claim, s, c.timeMS) {
				out = append(out, listed{seq: s, timeMS: c.timeMS, payer: p, id: c.id, ref: c.bodyRef(p, s)})
			}
		})
		if err != nil {
			return out, fmt.Errorf("ledger: listing the folded slots of %s paying %s: %w", p, peer, err)
		}
	}
	return out, nil
}

// eachCold calls f with each cold slot of a, a run read at a time. b.mu
// held.
func (b *Book) eachCold(a *account, f func(seq uint64, c coldSlot)) error {
	for _, r := range a.cold {
		recs := make([]byte, int(r.to-r.from)*coldRecLen)
		if err := b.cold.read(recs, r.off); err != nil {
			return err
		}
		for s := r.from; s < r.to; s++ {
			if s <= uint64(len(a.chain)) && a.chain[s-1] != nil {
				continue // thawed
			}
			c, ok, err := b.decodeCold(recs[(s-r.from)*coldRecLen:])
			if err != nil {
				return err
			}
			if ok {
				f(s, c)
			}
		}
	}
	return nil
}

// listed is a receipt in a listing (Records, Receipts), entry or cold.
type listed struct {
	own    bool // the peer listed is its payer
	seq    uint64
	timeMS int64
	payer  string
	id     [32]byte
	ref    bodyRef
}
