package executor

import (
	"bytes"
	"io"
)

// cappedWriter keeps the first limit bytes written to it and counts, then drops,
// the rest. Write never fails, so a guest is not disturbed by the cap.
//
// It also watches everything written, kept or dropped, for a set of markers
// (e.g. "out of memory"), so that a message printed after the cap is still
// seen. A cappedWriter is not safe for concurrent use; a guest's writes to
// one stream arrive in order from the goroutine running it.
type cappedWriter struct {
	buf       []byte
	limit     int
	total     int64 // bytes written, kept or not
	markers   []string
	maxMarker int    // length of the longest marker
	seen      bool   // a marker was written
	tail      []byte // the last maxMarker-1 bytes written, to find markers split across writes
	scratch   []byte // tail joined with the start of the current write
}

// newCappedWriter returns a writer that keeps at most limit bytes and watches
// for markers.
// tee writes to w and, when set, to logs; an error of logs is ignored (a
// slow or gone log reader must not fail the run).
func tee(w io.Writer, logs io.Writer) io.Writer {
	if logs == nil {
		return w
	}
	return teeWriter{w: w, logs: logs}
}

type teeWriter struct{ w, logs io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	_, _ = t.logs.Write(p)
	return t.w.Write(p)
}

func newCappedWriter(limit int, markers ...string) *cappedWriter {
	w := &cappedWriter{limit: limit, markers: markers}
	for _, m := range markers {
		w.maxMarker = max(w.maxMarker, len(m))
	}
	return w
}

// Write implements io.Writer; it always reports len(p) bytes written.
func (w *cappedWriter) Write(p []byte) (int, error) {
	w.total += int64(len(p))
	if room := w.limit - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	w.watch(p)
	return len(p), nil
}

// watch looks for the markers in p and in the join of the previous tail
// with p's start.
func (w *cappedWriter) watch(p []byte) {
	if w.seen || w.maxMarker == 0 {
		return
	}
	keep := w.maxMarker - 1
	w.scratch = append(append(w.scratch[:0], w.tail...), p[:min(len(p), keep)]...)
	for _, m := range w.markers {
		if bytes.Contains(w.scratch, []byte(m)) || bytes.Contains(p, []byte(m)) {
			w.seen = true
			w.tail, w.scratch = nil, nil
			return
		}
	}
	if len(p) >= keep {
		w.tail = append(w.tail[:0], p[len(p)-keep:]...)
	} else { // scratch holds the old tail and all of p
		w.tail = append(w.tail[:0], w.scratch[max(0, len(w.scratch)-keep):]...)
	}
}

// Bytes returns the kept bytes.
func (w *cappedWriter) Bytes() []byte { return w.buf }

// Truncated reports whether bytes were dropped.
func (w *cappedWriter) Truncated() bool { return w.total > int64(len(w.buf)) }

// Seen reports whether a marker was written.
func (w *cappedWriter) Seen() bool { return w.seen }
