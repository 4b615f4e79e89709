package ledger

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/computemesh/computemesh/job"
)

// What a Book keeps of a receipt. Judging needs only a few of a receipt's
// fields (its slot, amount, parties, time, whether it is a claim and
// whether its payee signed) and, to tell whether two records of one slot
// conflict, digests of what job.Conflict compares. Its body (job, attempt,
// signatures, a claim's authorisation: about 1.6 KB live) is kept by the
// book's receiptStore: in memory for a Book on its own, in the log for a
// Ledger's (logstore.go), read back for what needs it whole — a sync
// answer, a list of recent receipts, a fraud proof — and checked there
// against the entry's ID, so that a damaged log gives an error, never a
// wrong record.

// entry is a receipt (or claim) held by a Book.
type entry struct {
	id [32]byte // job.Receipt.ID: SHA-256 of its signing bytes
	// attempt is the SHA-256 of its job, attempt and payee: a receipt and
	// a claim of one slot conflict when theirs differ.
	attempt [32]byte
	// auth is a claim's: the SHA-256 of its authorisation's signing bytes
	// (two claims of one slot conflict when theirs differ); nil for a
	// receipt the payer signed.
	auth         *[32]byte
	payer, payee string // interned
	amount       job.Credits
	seq          uint64
	timeMS       int64
	ref          int64 // where the book's store keeps the body
	cosigned     bool  // it carries its payee's signature (a claim always does)
	folded       bool  // its slot went cold (cold.go): the entry is dropped
}

// isClaim reports whether e is a claim.
func (e *entry) isClaim() bool { return e.auth != nil }

// attemptKey is what a receipt and a claim of one slot must share.
type attemptKey struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Payee   string `json:"payee"`
}

// newEntry returns what a Book keeps of r, whose ID is id; its strings are
// the caller's to intern.
func newEntry(r *job.Receipt, id [32]byte) *entry {
	e := &entry{id: id, payer: r.Payer, payee: r.Payee, amount: r.Amount, seq: r.Seq,
		timeMS: r.TimeMS, cosigned: len(r.PayeeSig) > 0}
	e.attempt = sha256.Sum256(job.Encode(&attemptKey{Job: r.Job, Attempt: r.Attempt, Payee: r.Payee}))
	if r.Auth != nil {
		sum := sha256.Sum256(r.Auth.SigningBytes())
		e.auth = &sum
	}
	return e
}

// conflict is job.Conflict on two entries of one slot (same network,
// payer and sequence number): two receipts the payer signed that differ,
// two claims on different authorisations, or a receipt and a claim of
// different attempts.
func conflict(a, b *entry) bool {
	switch {
	case !a.isClaim() && !b.isClaim():
		return a.id != b.id
	case a.isClaim() && b.isClaim():
		return *a.auth != *b.auth
	}
	return a.attempt != b.attempt
}

// receiptStore keeps the bodies of a Book's receipts.
type receiptStore interface {
	// keep takes r (the book's own copy, the latest of its receipt: a
	// counter-signature replaces the copy without it) and returns the
	// reference load finds it by. loc is where the Ledger's log holds r
	// (logLoc), or noLoc for a Book on its own.
	keep(r *job.Receipt, loc int64) int64
	// load returns a copy of the receipt kept at ref.
	load(ref int64) (*job.Receipt, error)
}

// noLoc: the record is in no log (a Book on its own).
const noLoc = -1

// logLoc is the location of the receipt of the log's record at offset off:
// idx 0 for a receipt record, 0 or 1 for receipt A or B of a fraud proof.
func logLoc(off int64, idx int) int64 { return off<<1 | int64(idx&1) }

// memStore keeps the bodies in memory: a Book on its own (tests, the
// ledger simulator).
type memStore struct {
	mu sync.RWMutex // load runs without the book's lock
	rs []*job.Receipt
}

func (m *memStore) keep(r *job.Receipt, _ int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rs = append(m.rs, r)
	return int64(len(m.rs) - 1)
}

func (m *memStore) load(ref int64) (*job.Receipt, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if ref < 0 || ref >= int64(len(m.rs)) {
		return nil, fmt.Errorf("ledger: no receipt kept at %d", ref)
	}
	return cloneReceipt(m.rs[ref]), nil
}

// errDamaged marks a receipt read back from the log that is not the one
// the book holds (a checksum mismatch, another record, another receipt).
var errDamaged = errors.New("the log is damaged")

// body returns e's receipt as its store keeps it, checked against e.
func (b *Book) body(e bodyRef) (*job.Receipt, error) {
	r, err := b.store.load(e.ref)
	if err != nil {
		return nil, fmt.Errorf("receipt %d of payer %s: %w", e.seq, e.payer, err)
	}
	if r.ID() != e.id || r.Payer != e.payer || r.Seq != e.seq {
		return nil, fmt.Errorf("receipt %d of payer %s: the stored copy is receipt %d of payer %s, or another receipt of the slot: %w",
			e.seq, e.payer, r.Seq, r.Payer, errDamaged)
	}
	if e.cosigned && len(r.PayeeSig) == 0 {
		return nil, fmt.Errorf("receipt %d of payer %s: the stored copy lacks the payee's signature the book holds: %w", e.seq, e.payer, errDamaged)
	}
	return r, nil
}

// bodyRef is what body needs of an entry, copied under b.mu so that the
// body is read without it (a counter-signature may move e.ref meanwhile:
// the copy at the old ref stays, without that signature).
type bodyRef struct {
	id       [32]byte
	payer    string
	seq      uint64
	ref      int64
	cosigned bool
}

func (e *entry) bodyRef() bodyRef {
	return bodyRef{id: e.id, payer: e.payer, seq: e.seq, ref: e.ref, cosigned: e.cosigned}
}

// bodies returns the receipts of refs, in order. b.mu need not be held.
func (b *Book) bodies(refs []bodyRef) ([]job.Receipt, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]job.Receipt, 0, len(refs))
	for _, e := range refs {
		r, err := b.body(e)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}
