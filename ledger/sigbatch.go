package ledger

// sigQueue collects the signatures of a batch of records (AddAll) for one
// check by the configured BatchVerifier.
type sigQueue struct {
	items []Signed
	fails []func(error) error // the refusal each failure becomes
	owner []int               // the record each belongs to
	cur   int                 // the record being checked
}

// sig checks signer's signature sig of data at once (q nil), or queues it
// in q; fail makes a failure the caller's refusal.
func (b *Book) sig(q *sigQueue, signer string, data, sig []byte, fail func(error) error) error {
	if q == nil {
		if err := b.cfg.verify(signer, data, sig); err != nil {
			return fail(err)
		}
		return nil
	}
	q.items = append(q.items, Signed{Signer: signer, Data: data, Sig: sig})
	q.fails = append(q.fails, fail)
	q.owner = append(q.owner, q.cur)
	return nil
}

// truncate drops what was queued past n (a record refused after some of
// its signatures were queued).
func (q *sigQueue) truncate(n int) {
	q.items, q.fails, q.owner = q.items[:n], q.fails[:n], q.owner[:n]
}

// checkQueued checks every queued signature: one batch check, then, only if
// it fails, each on its own. It returns the refusal of each record that has a
// bad signature, by record.
func (b *Book) checkQueued(q *sigQueue) map[int]error {
	if len(q.items) == 0 || b.cfg.verifyBatch(q.items) {
		return nil
	}
	bad := map[int]error{}
	for i, s := range q.items {
		if _, done := bad[q.owner[i]]; done {
			continue
		}
		if err := b.cfg.verify(s.Signer, s.Data, s.Sig); err != nil {
			bad[q.owner[i]] = q.fails[i](err)
		}
	}
	return bad
}
