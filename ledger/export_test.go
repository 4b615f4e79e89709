package ledger

import (
	"errors"
	"sync/atomic"
)

// LogFileT is the file interface a Ledger writes through, for tests that
// make writes fail.
type LogFileT = logFile

// WrapLogFile replaces l's file by wrap(file).
func WrapLogFile(l *Ledger, wrap func(LogFileT) LogFileT) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f = wrap(l.f)
}

// AppendRaw appends a record as it is, unchecked (a log written by a
// tampered or buggy node).
func AppendRaw(l *Ledger, typ byte, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := encodeRecord(typ, payload)
	if _, err := l.f.Write(rec); err != nil {
		return err
	}
	l.size += int64(len(rec))
	return l.f.Sync()
}

// EncodeRecord is the log's framing of one record.
var EncodeRecord = encodeRecord

// FoldAfter makes a book fold its counted slots keep behind a chain's end,
// batch at a time (cold.go; by default 256 and 256).
func FoldAfter(keep, batch uint64) Option {
	return func(c *config) error {
		c.foldKeep, c.foldBatch = keep, max(batch, 1)
		return nil
	}
}

// ColdSlots returns how many slots of b are cold.
func ColdSlots(b *Book) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.nCold
}

// LedgerColdSlots returns how many slots of l's book are cold.
func LedgerColdSlots(l *Ledger) int { return ColdSlots(l.book) }

// FaultyCold is a cold store (coldstore.go) whose adds or reads fail
// while told to: a full disk, a failing one.
type FaultyCold struct {
	inner             coldStore
	FailAdd, FailRead atomic.Bool
	Added             atomic.Int64 // bytes
}

func (f *FaultyCold) add(p []byte) (int64, error) {
	if f.FailAdd.Load() {
		return 0, errors.New("no space left on device")
	}
	f.Added.Add(int64(len(p)))
	return f.inner.add(p)
}

func (f *FaultyCold) read(p []byte, off int64) error {
	if f.FailRead.Load() {
		return errors.New("input/output error")
	}
	return f.inner.read(p, off)
}

func (f *FaultyCold) close() error { return f.inner.close() }

// NewBookWithFaultyCold is NewBook with a FaultyCold in memory as its
// cold store.
func NewBookWithFaultyCold(opts ...Option) (*Book, *FaultyCold, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, nil, err
	}
	c := &FaultyCold{inner: &memCold{}}
	return newBook(cfg, &memStore{}, c), c, nil
}

// FaultLedgerCold makes l's cold store a FaultyCold around it.
func FaultLedgerCold(l *Ledger) *FaultyCold {
	l.book.mu.Lock()
	defer l.book.mu.Unlock()
	c := &FaultyCold{inner: l.book.cold}
	l.book.cold = c
	return c
}
