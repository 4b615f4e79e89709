package ledger

import (
	"errors"

	"github.com/computemesh/computemesh/job"
)

// AddAll adds many records with one write and one fsync (a judge's sync
// answer, a holder's store request): each is checked as AddGrant and
// AddReceipt would check it. It returns how many were new, the fraud
// proofs they revealed, and each refusal (duplicates are neither); err is
// a failure to write, which adds none of them.
func (l *Ledger) AddAll(gs []job.Grant, rs []job.Receipt) (added int, frauds []*job.FraudProof, refused []error, err error) {
	err = l.durably(func() error {
		var werr error
		added, frauds, refused, werr = l.addAll(gs, rs)
		return werr
	})
	if err != nil {
		return 0, nil, refused, err
	}
	return added, frauds, refused, nil
}

// addAll is AddAll but the sync. l.mu held.
func (l *Ledger) addAll(gs []job.Grant, rs []job.Receipt) (added int, frauds []*job.FraudProof, refused []error, err error) {
	todo, refused, thaw, err := l.checkAll(gs, rs)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(thaw) > 0 { // records for cold slots of these payers (cold.go)
		for _, p := range thaw {
			if err := l.book.thaw(p); err != nil {
				return 0, nil, refused, err
			}
		}
		if todo, refused, _, err = l.checkAll(gs, rs); err != nil {
			return 0, nil, nil, err
		}
	}
	var buf []byte
	for i := range todo {
		c := &todo[i]
		c.off = l.size + int64(len(buf))
		if c.g != nil {
			buf = append(buf, encodeRecord(recGrant, job.Encode(c.g))...)
		} else {
			buf = append(buf, encodeRecord(recReceipt, job.Encode(c.r))...)
		}
	}
	if len(todo) == 0 {
		return 0, nil, refused, nil
	}
	if err := l.appendBytes(buf); err != nil {
		return 0, nil, refused, err
	}
	l.book.mu.Lock()
	defer l.book.mu.Unlock()
	defer l.book.foldDue() // after the whole batch (cold.go)
	for _, c := range todo {
		if c.g != nil {
			l.book.applyGrant(c.g, c.id)
			continue
		}
		// A receipt twice in one batch: the second only adds a
		// counter-signature, if it has one.
		if f := l.book.applyReceipt(cloneReceipt(c.r), c.id, logLoc(c.off, 0)); f != nil {
			frauds = append(frauds, f)
		}
	}
	return len(todo), frauds, refused, nil
}

// checked is a record of a batch that passed its checks.
type checked struct {
	g   *job.Grant
	r   *job.Receipt
	id  [32]byte
	off int64 // of its record in the log
}

// checkAll checks a batch's records as AddGrant and AddReceipt would, the
// receipts' signatures at once where a BatchVerifier is set. It returns
// the new records and the refusals (duplicates are neither), and the
// payers of receipts whose slot is cold and holds another record (cold.go):
// the caller thaws them and checks the batch again. A failure of the cold
// store is this node's, not a record's: it is fail.
func (l *Ledger) checkAll(gs []job.Grant, rs []job.Receipt) (todo []checked, refused []error, thaw []string, fail error) {
	grants := map[[32]byte]bool{}
	var q *sigQueue
	if l.cfg.verifyBatch != nil {
		q = &sigQueue{}
	}
	l.book.mu.RLock()
	defer l.book.mu.RUnlock()
	for i := range gs {
		id, err := l.book.checkGrant(&gs[i], true, false)
		switch {
		case errors.Is(err, ErrDuplicate), err == nil && grants[id]:
		case err != nil:
			refused = append(refused, err)
		default:
			grants[id] = true
			todo = append(todo, checked{g: &gs[i], id: id})
		}
	}
	for i := range rs {
		queued := 0
		if q != nil {
			q.cur, queued = len(todo), len(q.items)
		}
		id, err := l.book.checkReceipt(&rs[i], true, false, q)
		switch {
		case err != nil && q != nil:
			q.truncate(queued)
			fallthrough
		case err != nil:
			if p, ok := thawOf(err); ok {
				thaw = append(thaw, p)
			} else if errors.Is(err, errColdStore) {
				return nil, nil, nil, err
			} else if !errors.Is(err, ErrDuplicate) {
				refused = append(refused, err)
			}
		default:
			todo = append(todo, checked{r: &rs[i], id: id})
		}
	}
	if q == nil {
		return todo, refused, thaw, nil
	}
	bad := l.book.checkQueued(q)
	if len(bad) == 0 {
		return todo, refused, thaw, nil
	}
	kept := todo[:0]
	for i, c := range todo {
		if err, ok := bad[i]; ok {
			refused = append(refused, err)
			continue
		}
		kept = append(kept, c)
	}
	return kept, refused, thaw, nil
}
