package ledger

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/computemesh/computemesh/job"
)

// scanner reads the log's records one by one.
type scanner struct {
	path string
	r    *bufio.Reader
	src  io.ReaderAt
	size int64
	off  int64 // offset of the next record
	buf  []byte
}

// errTorn marks the end of the complete records: what follows is a torn
// last record.
var errTorn = errors.New("torn last record")

// next returns the next record, io.EOF at the end of the file, an error
// wrapping errTorn for a torn tail, or another error for damage.
func (s *scanner) next() (typ byte, payload []byte, err error) {
	rest := s.size - s.off
	if rest == 0 {
		return 0, nil, io.EOF
	}
	if rest < recHeaderLen {
		return 0, nil, fmt.Errorf("%w: %d bytes of a record header", errTorn, rest)
	}
	var h [recHeaderLen]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("ledger %s: offset %d: %w", s.path, s.off, err)
	}
	n, sum := int64(binary.BigEndian.Uint32(h[0:4])), binary.BigEndian.Uint32(h[4:8])
	if n == 0 || n > maxRecordLen {
		if s.zeroFrom(s.off) {
			return 0, nil, fmt.Errorf("%w: zeros from offset %d", errTorn, s.off)
		}
		return 0, nil, fmt.Errorf("ledger %s: offset %d: record length %d is out of range (1 to %d): the log is damaged", s.path, s.off, n, maxRecordLen)
	}
	if s.off+recHeaderLen+n > s.size {
		return 0, nil, fmt.Errorf("%w: a record of %d bytes, %d in the file", errTorn, n, rest-recHeaderLen)
	}
	if int64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return 0, nil, fmt.Errorf("ledger %s: offset %d: %w", s.path, s.off, err)
	}
	if crc32.Checksum(s.buf, castagnoli) != sum {
		if end := s.off + recHeaderLen + n; end == s.size || s.zeroFrom(end) {
			return 0, nil, fmt.Errorf("%w: checksum mismatch in the last record", errTorn)
		}
		return 0, nil, fmt.Errorf("ledger %s: offset %d: checksum mismatch: the log is damaged", s.path, s.off)
	}
	return s.buf[0], s.buf[1:], nil
}

// zeroFrom reports whether the file holds only zero bytes from off (a file
// extended by a crash but never written).
func (s *scanner) zeroFrom(off int64) bool {
	r := io.NewSectionReader(s.src, off, s.size-off)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func newScanner(path string, f *os.File, size int64) *scanner {
	return &scanner{path: path, r: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20), src: f, size: size}
}

// decodeRecord decodes one record's payload.
func decodeRecord(typ byte, payload []byte) (any, error) {
	switch typ {
	case recReceipt:
		r := new(job.Receipt)
		return r, job.Decode(payload, job.MaxReceiptSize, r)
	case recGrant:
		g := new(job.Grant)
		return g, job.Decode(payload, job.MaxGrantSize, g)
	case recFraud:
		p := new(job.FraudProof)
		return p, job.Decode(payload, job.MaxFraudProofSize, p)
	case recAuth:
		a := new(job.Authorization)
		return a, job.Decode(payload, job.MaxAuthorizationSize, a)
	case recSeq:
		r := new(seqReservation)
		return r, job.Decode(payload, 1024, r)
	case recHeader:
		h := new(logHeader)
		return h, job.Decode(payload, 1024, h)
	default:
		return nil, fmt.Errorf("unknown record type %q", typ)
	}
}
