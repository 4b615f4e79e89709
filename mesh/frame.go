package mesh

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/computemesh/computemesh/job"
)

// WriteFrame writes one length-prefixed frame (uvarint length, then bytes).
func WriteFrame(w io.Writer, b []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	buf := make([]byte, 0, n+len(b))
	buf = append(append(buf, hdr[:n]...), b...)
	_, err := w.Write(buf)
	return err
}

// FrameTooLargeError reports a frame whose announced length is over the
// reader's limit; nothing of it was read.
type FrameTooLargeError struct {
	Size  uint64
	Limit int
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("frame of %d bytes exceeds the limit of %d", e.Size, e.Limit)
}

// ReadFrame reads one frame of at most limit bytes.
func ReadFrame(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, &FrameTooLargeError{Size: n, Limit: limit}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading frame of %d bytes: %w", n, err)
	}
	return b, nil
}

// WriteMsg writes v as one JSON frame.
func WriteMsg(w io.Writer, v any) error { return WriteFrame(w, job.Encode(v)) }

// ReadMsg reads one JSON frame of at most limit bytes into v and validates it.
func ReadMsg(r *bufio.Reader, limit int, v any) error {
	b, err := ReadFrame(r, limit)
	if err != nil {
		return err
	}
	return job.Decode(b, limit, v)
}
