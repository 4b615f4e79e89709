package ledger

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/computemesh/computemesh/job"
)

// A Ledger's book keeps no receipt's body in memory: each entry's ref is
// where the log holds the body (logLoc: the record's offset, and which
// receipt of a fraud proof), read back with its own read-only handle when
// something needs it whole. The log is only ever appended to (a failed
// append is cut back before anything refers to it), so a ref stays valid.
// What is read back is checked: framing, checksum, record type, strict
// decoding here, then the receipt's ID against the entry's (Book.body).

// logStore reads receipts back from a Ledger's log.
type logStore struct {
	path string
	f    *os.File // read-only: ReadAt is safe for concurrent use
}

// keep returns loc: the log holds r already (the Ledger wrote it first).
func (s *logStore) keep(_ *job.Receipt, loc int64) int64 { return loc }

// load reads the receipt at ref back from the log.
func (s *logStore) load(ref int64) (*job.Receipt, error) {
	if ref < 0 {
		return nil, fmt.Errorf("ledger %s: a receipt not in the log (ref %d): %w", s.path, ref, errDamaged)
	}
	off, idx := ref>>1, ref&1
	var h [recHeaderLen]byte
	if _, err := s.f.ReadAt(h[:], off); err != nil {
		return nil, fmt.Errorf("ledger %s: reading the record at offset %d: %w", s.path, off, err)
	}
	n, sum := binary.BigEndian.Uint32(h[0:4]), binary.BigEndian.Uint32(h[4:8])
	if n < 2 || n > maxRecordLen {
		return nil, fmt.Errorf("ledger %s: offset %d: record length %d is out of range (2 to %d): %w", s.path, off, n, maxRecordLen, errDamaged)
	}
	buf := make([]byte, n)
	if _, err := s.f.ReadAt(buf, off+recHeaderLen); err != nil {
		return nil, fmt.Errorf("ledger %s: reading the record at offset %d: %w", s.path, off, err)
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		return nil, fmt.Errorf("ledger %s: offset %d: checksum mismatch: %w", s.path, off, errDamaged)
	}
	switch typ := buf[0]; {
	case typ == recReceipt && idx == 0:
		r := new(job.Receipt)
		if err := job.Decode(buf[1:], job.MaxReceiptSize, r); err != nil {
			return nil, fmt.Errorf("ledger %s: the receipt at offset %d: %v: %w", s.path, off, err, errDamaged)
		}
		return r, nil
	case typ == recFraud:
		p := new(job.FraudProof)
		if err := job.Decode(buf[1:], job.MaxFraudProofSize, p); err != nil {
			return nil, fmt.Errorf("ledger %s: the fraud proof at offset %d: %v: %w", s.path, off, err, errDamaged)
		}
		if idx == 0 {
			return &p.A, nil
		}
		return &p.B, nil
	default:
		return nil, fmt.Errorf("ledger %s: offset %d: a record of type %q where receipt %d of it was expected: %w", s.path, off, typ, idx, errDamaged)
	}
}

// Receipts is Book.Receipts, read back from the log: an error for a
// receipt the log no longer holds as it was written.
func (l *Ledger) Receipts(peer string, n int) ([]job.Receipt, error) {
	refs, err := l.book.recent(peer, n)
	if err != nil {
		return nil, fmt.Errorf("ledger: the receipts of %s: %w", peer, err)
	}
	rs, err := l.book.bodies(refs)
	if err != nil {
		return nil, fmt.Errorf("ledger: the receipts of %s: %w", peer, err)
	}
	return rs, nil
}

// Records is Book.Records, read back from the log (see Receipts).
func (l *Ledger) Records(peer string, max int) ([]job.Grant, []job.Receipt, error) {
	return l.RecordsSince(peer, 0, 0, max)
}

// RecordsSince is Book.RecordsSince, read back from the log (see
// Receipts): a sync answer.
func (l *Ledger) RecordsSince(peer string, after uint64, sinceMS int64, max int) ([]job.Grant, []job.Receipt, error) {
	gs, refs, err := l.book.recordsSince(peer, after, sinceMS, max)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: the records of %s: %w", peer, err)
	}
	rs, err := l.book.bodies(refs)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: the records of %s: %w", peer, err)
	}
	return gs, rs, nil
}

// openStore opens the log read-only for reading receipts back and gives
// the ledger its book, with a cold store beside the log (coldstore.go).
// Close closes them.
func (l *Ledger) openStore() error {
	f, err := os.Open(l.path)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	cold, err := openFileCold(filepath.Dir(l.path))
	if err != nil {
		f.Close()
		return err
	}
	l.store = &logStore{path: l.path, f: f}
	l.book = newBook(l.cfg, l.store, cold)
	return nil
}

// closeStore closes what openStore opened.
func (l *Ledger) closeStore() error {
	err := l.store.f.Close()
	if cerr := l.book.cold.close(); err == nil {
		err = cerr
	}
	return err
}
