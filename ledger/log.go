package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/computemesh/computemesh/job"
)

// The log file, <dir>/ledger.log, is a sequence of records:
//
//	length  uint32, big-endian: bytes of type and payload
//	crc     uint32, big-endian: CRC-32C (Castagnoli) of type and payload
//	type    1 byte: 'H' header, 'R' receipt, 'G' grant, 'F' fraud proof,
//	        'S' a sequence number this node reserved for itself as a payer
//	        (written by earlier versions, which reserved a number before
//	        signing; read, never written)
//	payload the record's JSON (job.Encode), decoded strictly (job.Decode)
//
// The first record is the header, {"v":1,"network":...}; a log of another
// network is refused. The file is created whole (temporary file, fsync,
// rename, fsync of the directory) and only ever appended to, one write and
// one fsync per record.

// LogFile is the name of the log in a ledger's directory.
const LogFile = "ledger.log"

// Record types of the log.
const (
	recHeader  = 'H'
	recReceipt = 'R'
	recGrant   = 'G'
	recFraud   = 'F'
	recSeq     = 'S'
	recAuth    = 'A' // an authorisation this node signed (Ledger.Authorize)
)

const (
	recHeaderLen = 8
	maxRecordLen = job.MaxFraudProofSize + 1
	logVersion   = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type logHeader struct {
	V       int    `json:"v"`
	Network string `json:"network"`
	// Faucet is the network's faucet when the log was created (empty: none,
	// or a log written before it was kept), so that the log can be verified
	// offline without being told (ReadHeader).
	Faucet string `json:"faucet,omitempty"`
}

// logFile is what a Ledger needs of its open file (tests wrap it to fail).
type logFile interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Ledger is a Book kept in a durable log. Add* check a record, write it
// and apply it, and return once an fsync covers it (shared by the writers
// of the moment: commit.go), so what they acknowledge survives a crash; a
// failed write leaves the book (and the file) as they were. It is safe for
// concurrent use.
type Ledger struct {
	cfg   *config
	path  string
	book  *Book
	store *logStore // the receipts' bodies, read back (logstore.go)

	mu     sync.Mutex // serialises writers
	f      logFile
	size   int64 // bytes of complete records in the file
	synced int64 // of which known to be on disk
	broken error // a failed write could not be undone: no more writes
	closed bool

	syncMu sync.Mutex // one fsync at a time (commit.go)

	signersMu sync.Mutex
	signers   map[string]bool // payers whose signing this node has checked
}

// encodeRecord returns the log's framing of one record.
func encodeRecord(typ byte, payload []byte) []byte {
	buf := make([]byte, recHeaderLen+1+len(payload))
	binary.BigEndian.PutUint32(buf[0:4], uint32(1+len(payload)))
	buf[8] = typ
	copy(buf[9:], payload)
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(buf[8:], castagnoli))
	return buf
}

// Open opens the ledger in dir (creating dir and the log if needed) and
// replays its log into a Book.
//
// Open trusts its own log: every record in it was checked, signatures
// included, before it was written, the file is written only by this node
// and fsynced, and each record carries a CRC-32C. Replay therefore checks
// framing, checksums, strict decoding, the network and the faucet, but not
// the signatures (about 10× faster for a large log; see
// docs/BENCHMARKS.md); WithVerifyOnOpen(true) verifies them too, and
// Verify re-checks everything on demand (meshnode ledger verify).
//
// A torn last record (a crash in the middle of an append) is truncated away
// with a warning; damage before the last record is an error naming the file
// and the offset.
func Open(dir string, opts ...Option) (*Ledger, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := &Ledger{cfg: cfg, path: filepath.Join(dir, LogFile)}
	if err := l.create(); err != nil {
		return nil, err
	}
	if err := l.openStore(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		l.closeStore()
		return nil, fmt.Errorf("ledger: %w", err)
	}
	end, err := l.replay(f)
	if err != nil {
		f.Close()
		l.closeStore()
		return nil, err
	}
	l.f, l.size, l.synced = f, end, end
	return l, nil
}

// create writes a log holding only the header unless one exists (or one
// exists that is empty: a crash before its header, impossible by rename,
// but harmless to repair).
func (l *Ledger) create() error {
	if st, err := os.Stat(l.path); err == nil && st.Size() > 0 {
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ledger: %w", err)
	}
	rec := encodeRecord(recHeader, job.Encode(&logHeader{V: logVersion, Network: l.cfg.network, Faucet: l.cfg.faucet}))
	// Temporary file .tmp-ledger.log-*, fsync, rename, fsync of the directory.
	if err := atomicfile.WriteFile(l.path, rec, 0o600); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// replay reads the log into l.book and returns the end of its complete
// records, truncating a torn tail.
func (l *Ledger) replay(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("ledger %s: %w", l.path, err)
	}
	s := newScanner(l.path, f, st.Size())
	for {
		typ, payload, err := s.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errTorn) {
			if s.off == 0 {
				return 0, fmt.Errorf("ledger %s: the header record is torn: %v", l.path, err)
			}
			// What was dropped: a record this node was writing when it
			// stopped, never acknowledged (Add returns after the fsync).
			l.cfg.log.Error("ledger: dropping a torn last record (a crash in the middle of a write; it was never acknowledged)",
				"file", l.path, "offset", s.off, "bytes_dropped", s.size-s.off, "record", tornKind(f, s.off, s.size), "reason", err.Error())
			if err := f.Truncate(s.off); err != nil {
				return 0, fmt.Errorf("ledger %s: truncating a torn last record at offset %d: %w", l.path, s.off, err)
			}
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("ledger %s: %w", l.path, err)
			}
			return s.off, nil
		}
		if err != nil {
			return 0, err
		}
		if dup, err := applyRecord(l.book, s.off, typ, payload, l.cfg.verifyOnOpen); err != nil && !dup {
			return 0, fmt.Errorf("ledger %s: record at offset %d: %w", l.path, s.off, err)
		}
		s.off += recHeaderLen + int64(len(payload)) + 1
	}
	if s.off == 0 {
		return 0, fmt.Errorf("ledger %s: empty log: no header", l.path)
	}
	return s.off, nil
}

// ReadHeader returns the network of the ledger in dir and the faucet it was
// created with ("" when it has none, or was created before the header kept
// it): what Open needs to verify it offline.
func ReadHeader(dir string) (network, faucet string, err error) {
	path := filepath.Join(dir, LogFile)
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", "", fmt.Errorf("ledger: %w", err)
	}
	typ, payload, err := newScanner(path, f, st.Size()).next()
	if err != nil {
		return "", "", fmt.Errorf("ledger %s: reading its header: %v", path, err)
	}
	if typ != recHeader {
		return "", "", fmt.Errorf("ledger %s: the first record is not a header", path)
	}
	var h logHeader
	if err := job.Decode(payload, maxRecordLen, &h); err != nil {
		return "", "", fmt.Errorf("ledger %s: header: %w", path, err)
	}
	return h.Network, h.Faucet, nil
}

// tornKind names the kind of the torn record at off, when its type byte
// made it to the file.
func tornKind(f *os.File, off, size int64) string {
	if size <= off+recHeaderLen {
		return "unknown (its type byte is not in the file)"
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off+recHeaderLen); err != nil {
		return "unknown"
	}
	switch b[0] {
	case recReceipt:
		return "a receipt"
	case recGrant:
		return "a grant"
	case recFraud:
		return "a fraud proof"
	case recSeq:
		return "a sequence reservation"
	case 0:
		return "unknown (zeros)"
	}
	return fmt.Sprintf("unknown (type %q)", b[0])
}

// applyRecord decodes one record and adds it to b (verify: signatures
// too); dup reports a record b already held.
func applyRecord(b *Book, off int64, typ byte, payload []byte, verify bool) (dup bool, err error) {
	v, err := decodeRecord(typ, payload)
	if err != nil {
		return false, err
	}
	if (off == 0) != (typ == recHeader) {
		return false, fmt.Errorf("the header must be the first record and only it")
	}
	switch v := v.(type) {
	case *logHeader:
		if v.V != logVersion {
			return false, fmt.Errorf("log version %d, want %d", v.V, logVersion)
		}
		if v.Network != b.cfg.network {
			return false, fmt.Errorf("this ledger belongs to network %q, opened for network %q", v.Network, b.cfg.network)
		}
	case *job.Receipt:
		id, err := thawing(b, func() ([32]byte, error) { return b.checkReceipt(v, verify, true, nil) }) // decodeRecord validated it
		if err != nil {
			return errors.Is(err, ErrDuplicate), err
		}
		b.applyReceipt(v, id, logLoc(off, 0))
		b.foldDue()
	case *job.Grant:
		id, err := b.checkGrant(v, verify, true)
		if err != nil {
			return errors.Is(err, ErrDuplicate), err
		}
		b.applyGrant(v, id)
		b.foldDue()
	case *job.FraudProof:
		add, err := thawing(b, func() (fraudAdd, error) { return b.checkFraud(v, verify) })
		if err != nil {
			return errors.Is(err, ErrDuplicate), err
		}
		b.applyFraud(add, off)
		b.foldDue()
	case *seqReservation:
		b.reserve(v.Payer, v.Seq)
	case *job.Authorization:
		b.ownAuth(v)
	}
	return false, nil
}

// append writes one record; on failure it cuts the file back so that no
// partial record stays in it. l.mu held; the caller syncs (durably).
func (l *Ledger) append(typ byte, v any) error {
	if l.closed {
		return fmt.Errorf("ledger %s: closed", l.path)
	}
	if l.broken != nil {
		return fmt.Errorf("ledger %s: unusable after an earlier write failure: %w", l.path, l.broken)
	}
	return l.appendBytes(encodeRecord(typ, job.Encode(v)))
}

// appendBytes writes encoded records (see append). l.mu held.
func (l *Ledger) appendBytes(rec []byte) error {
	if l.closed {
		return fmt.Errorf("ledger %s: closed", l.path)
	}
	if l.broken != nil {
		return fmt.Errorf("ledger %s: unusable after an earlier write failure: %w", l.path, l.broken)
	}
	_, err := l.f.Write(rec)
	if err == nil {
		l.size += int64(len(rec))
		return nil
	}
	werr := fmt.Errorf("ledger %s: writing a record at offset %d: %w", l.path, l.size, err)
	if terr := l.f.Truncate(l.size); terr != nil {
		l.broken = fmt.Errorf("%v; truncating it back: %v", werr, terr)
	} else if serr := l.f.Sync(); serr != nil {
		l.broken = fmt.Errorf("%v; syncing the truncation: %v", werr, serr)
	}
	return werr
}

// AddReceipt is Book.AddReceipt, durably: the receipt is in the log before
// it returns.
func (l *Ledger) AddReceipt(r *job.Receipt) (*job.FraudProof, error) {
	var fraud *job.FraudProof
	err := l.durably(func() (err error) {
		fraud, err = l.keepReceipt(r, true, false)
		return err
	})
	return fraud, err
}

// keepReceipt checks r (its signatures when verify; its fields unless
// validated), writes it and applies it to the book. l.mu held; the caller
// syncs (durably).
func (l *Ledger) keepReceipt(r *job.Receipt, verify, validated bool) (*job.FraudProof, error) {
	id, err := l.checked(func() ([32]byte, error) { return l.book.checkReceipt(r, verify, validated, nil) })
	if err != nil {
		return nil, err
	}
	off := l.size
	if err := l.append(recReceipt, r); err != nil {
		return nil, err
	}
	l.book.mu.Lock()
	defer l.book.mu.Unlock()
	defer l.book.foldDue()
	return l.book.applyReceipt(cloneReceipt(r), id, logLoc(off, 0)), nil
}

// AddGrant is Book.AddGrant, durably.
func (l *Ledger) AddGrant(g *job.Grant) error {
	return l.durably(func() error {
		l.book.mu.RLock()
		id, err := l.book.checkGrant(g, true, false)
		l.book.mu.RUnlock()
		if err != nil {
			return err
		}
		if err := l.append(recGrant, g); err != nil {
			return err
		}
		l.book.mu.Lock()
		defer l.book.mu.Unlock()
		l.book.applyGrant(g, id)
		l.book.foldDue()
		return nil
	})
}

// AddFraud is Book.AddFraud, durably.
func (l *Ledger) AddFraud(p *job.FraudProof) error {
	return l.durably(func() error {
		l.book.mu.RLock()
		add, err := l.book.checkFraud(p, true)
		l.book.mu.RUnlock()
		if payer, ok := thawOf(err); ok {
			if err = l.book.thaw(payer); err == nil {
				l.book.mu.RLock()
				add, err = l.book.checkFraud(p, true)
				l.book.mu.RUnlock()
			}
		}
		if err != nil {
			return err
		}
		off := l.size
		if err := l.append(recFraud, p); err != nil {
			return err
		}
		l.book.mu.Lock()
		defer l.book.mu.Unlock()
		l.book.applyFraud(add, off)
		l.book.foldDue()
		return nil
	})
}

// Path returns the log file's path.
func (l *Ledger) Path() string { return l.path }

// Balance is Book.Balance.
func (l *Ledger) Balance(peer string) Balance { return l.book.Balance(peer) }

// Counts is Book.Counts.
func (l *Ledger) Counts(peer string) (grants, receipts int) { return l.book.Counts(peer) }

// Spendable is Book.Spendable.
func (l *Ledger) Spendable(peer string) job.Credits { return l.book.Spendable(peer) }

// Fraudulent is Book.Fraudulent.
func (l *Ledger) Fraudulent(payer string) bool { return l.book.Fraudulent(payer) }

// FraudProof is Book.FraudProof.
func (l *Ledger) FraudProof(payer string) *job.FraudProof { return l.book.FraudProof(payer) }

// FraudulentPayers is Book.FraudulentPayers.
func (l *Ledger) FraudulentPayers() []string { return l.book.FraudulentPayers() }

// NextSeq is Book.NextSeq.
func (l *Ledger) NextSeq(payer string) uint64 { return l.book.NextSeq(payer) }

// Peers is Book.Peers.
func (l *Ledger) Peers() []string { return l.book.Peers() }

// Stats is Book.Stats.
func (l *Ledger) Stats() Stats { return l.book.Stats() }

// VerifyAuthorization is Book.VerifyAuthorization.
func (l *Ledger) VerifyAuthorization(a *job.Authorization) error {
	return l.book.VerifyAuthorization(a)
}

// Close syncs and releases the file; later Adds fail.
func (l *Ledger) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.synced < l.size && l.broken == nil {
		if err = l.f.Sync(); err == nil {
			l.synced = l.size
		}
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if cerr := l.closeStore(); err == nil && cerr != nil {
		err = fmt.Errorf("ledger %s: %w", l.path, cerr)
	}
	return err
}

// PendingPayers is Book.PendingPayers.
func (l *Ledger) PendingPayers(peer string, max int) []string { return l.book.PendingPayers(peer, max) }

// Available is Book.Available.
func (l *Ledger) Available(peer string) job.Credits { return l.book.Available(peer) }

// CountedChain is Book.CountedChain.
func (l *Ledger) CountedChain(peer string) uint64 { return l.book.CountedChain(peer) }
