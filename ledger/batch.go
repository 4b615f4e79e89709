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
	type checked struct {
		g   *job.Grant
		r   *job.Receipt
		id  [32]byte
		off int64 // of its record in the log
	}
	var todo []checked
	var buf []byte
	grants := map[[32]byte]bool{}
	l.book.mu.RLock()
	for i := range gs {
		id, err := l.book.checkGrant(&gs[i], true, false)
		switch {
		case errors.Is(err, ErrDuplicate), err == nil && grants[id]:
		case err != nil:
			refused = append(refused, err)
		default:
			grants[id] = true
			todo = append(todo, checked{g: &gs[i], id: id, off: l.size + int64(len(buf))})
			buf = append(buf, encodeRecord(recGrant, job.Encode(&gs[i]))...)
		}
	}
	for i := range rs {
		id, err := l.book.checkReceipt(&rs[i], true, false)
		switch {
		case errors.Is(err, ErrDuplicate):
		case err != nil:
			refused = append(refused, err)
		default:
			todo = append(todo, checked{r: &rs[i], id: id, off: l.size + int64(len(buf))})
			buf = append(buf, encodeRecord(recReceipt, job.Encode(&rs[i]))...)
		}
	}
	l.book.mu.RUnlock()
	if len(todo) == 0 {
		return 0, nil, refused, nil
	}
	if err := l.appendBytes(buf); err != nil {
		return 0, nil, refused, err
	}
	l.book.mu.Lock()
	defer l.book.mu.Unlock()
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
