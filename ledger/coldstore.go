package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/computemesh/computemesh/job"
)

// Where folded slots go (cold.go). A fold writes its slots' records, one
// fixed-size record a slot (coldRecLen), to a coldStore and keeps only
// where the run starts (a coldRun: 24 bytes for 256 slots or more): the
// book's memory no longer grows with the receipts it holds. A Ledger's
// store is a file of its own, unlinked once created (nothing to clean up
// after a crash, nothing another process opening the same ledger could
// share); the records are derived from the log, written again by the
// replay of every Open, and never synced. A Book on its own keeps them in
// memory, 64 bytes a slot.

// coldStore keeps the records of folded slots. Appends run under the
// book's write lock, reads under its read lock (concurrently).
type coldStore interface {
	// add appends p and returns its offset.
	add(p []byte) (int64, error)
	// read fills p from offset off.
	read(p []byte, off int64) error
	// close releases the store.
	close() error
}

// errColdStore marks a failure of the cold store: this node's, not the
// record's (a batch returns it rather than refuse the record).
var errColdStore = errors.New("the store of folded slots failed")

// coldRecLen is the length of a folded slot's record: its receipt's ID
// (32 bytes), where the body is (8), amount (8), time (8), payee (4: an
// index into Book.payees) and flags (4).
const coldRecLen = 64

// Flags of a cold record.
const (
	coldFolded = 1 << iota // the slot is folded; a record without it is a hole
	coldClaim              // its record is a claim
)

// coldRun is a run of a payer's slots folded together: slot s in
// [from, to) has its record at off + (s−from)·coldRecLen.
type coldRun struct {
	from, to uint64
	off      int64
}

// coldRecord encodes c (its payee as index payee) into p.
func coldRecord(p []byte, c coldSlot, payee uint32) {
	copy(p[0:32], c.id[:])
	binary.LittleEndian.PutUint64(p[32:], uint64(c.ref))
	binary.LittleEndian.PutUint64(p[40:], uint64(c.amount))
	binary.LittleEndian.PutUint64(p[48:], uint64(c.timeMS))
	binary.LittleEndian.PutUint32(p[56:], payee)
	flags := uint32(coldFolded)
	if c.claim {
		flags |= coldClaim
	}
	binary.LittleEndian.PutUint32(p[60:], flags)
}

// decodeCold decodes a record; ok is false for a hole. b.mu held.
func (b *Book) decodeCold(p []byte) (c coldSlot, ok bool, err error) {
	flags := binary.LittleEndian.Uint32(p[60:])
	if flags&coldFolded == 0 {
		return coldSlot{}, false, nil
	}
	i := binary.LittleEndian.Uint32(p[56:])
	if int(i) >= len(b.payees) {
		return coldSlot{}, false, fmt.Errorf("ledger: a folded slot's record names payee %d of %d: %w", i, len(b.payees), errDamaged)
	}
	copy(c.id[:], p[0:32])
	c.ref = int64(binary.LittleEndian.Uint64(p[32:]))
	c.amount = job.Credits(binary.LittleEndian.Uint64(p[40:]))
	c.timeMS = int64(binary.LittleEndian.Uint64(p[48:]))
	c.payee, c.claim = b.payees[i], flags&coldClaim != 0
	return c, true, nil
}

// payeeIndex returns payee's index in b.payees, adding it. b.mu held.
func (b *Book) payeeIndex(payee string) uint32 {
	i, ok := b.payeeIdx[payee]
	if !ok {
		i = uint32(len(b.payees))
		b.payees = append(b.payees, payee)
		b.payeeIdx[payee] = i
	}
	return i
}

// memCold is a Book's own cold store, in memory.
type memCold struct {
	mu sync.RWMutex
	b  []byte
}

func (m *memCold) add(p []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	off := int64(len(m.b))
	m.b = append(m.b, p...)
	return off, nil
}

func (m *memCold) read(p []byte, off int64) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return fmt.Errorf("ledger: no folded slots kept at %d (+%d): %w", off, len(p), errDamaged)
	}
	copy(p, m.b[off:])
	return nil
}

func (m *memCold) close() error { return nil }

// fileCold is a Ledger's cold store: an unlinked file beside its log.
type fileCold struct {
	mu   sync.Mutex // appends
	f    *os.File   // ReadAt is safe for concurrent use
	size int64
}

// openFileCold creates the cold store of the log in dir.
func openFileCold(dir string) (*fileCold, error) {
	f, err := os.CreateTemp(dir, ".folded-*")
	if err != nil {
		return nil, fmt.Errorf("ledger: the store of folded slots: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("ledger: the store of folded slots: %w", err)
	}
	return &fileCold{f: f}, nil
}

func (s *fileCold) add(p []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off := s.size
	if _, err := s.f.WriteAt(p, off); err != nil {
		return 0, fmt.Errorf("ledger: writing folded slots: %w", err)
	}
	s.size += int64(len(p))
	return off, nil
}

func (s *fileCold) read(p []byte, off int64) error {
	if _, err := s.f.ReadAt(p, off); err != nil {
		return fmt.Errorf("ledger: reading folded slots at %d: %w", off, err)
	}
	return nil
}

func (s *fileCold) close() error { return s.f.Close() }
