package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// The journal's log, <data-dir>/jobs/journal.log, is a sequence of entries:
//
//	[4-byte big-endian length n][4-byte CRC-32C of the n bytes][n bytes]
//
// whose first byte is the entry's type: entryRecord, then a job record in
// JSON (the whole record: the latest entry of a job is its record), or
// entryRemove, then a job ID (a pruned record), or entryTasks, then
// results of a job array's tasks (journal_tasks.go). Writes append; a crash can
// only cut the last entries short, and opening the journal drops such a
// tail. When the log holds more than four times what its live entries need, the
// writer copies those into a new log and renames it over the old one.

const (
	logName      = "journal.log"
	logTmpName   = "journal.log.tmp"
	entryHeader  = 8
	entryRecord  = 'r'
	entryRemove  = 'd'
	compactAbove = 8 << 20 // the log is compacted only past this size
	compactRatio = 4       // … and past this many times its live entries' size
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// span is where an entry lies in the log.
type span struct {
	off int64
	n   int
}

// appendEntry appends an entry of typ with payload to buf.
func appendEntry(buf []byte, typ byte, payload []byte) []byte {
	var h [entryHeader]byte
	n := 1 + len(payload)
	binary.BigEndian.PutUint32(h[0:4], uint32(n))
	crc := crc32.Update(crc32.Checksum([]byte{typ}, castagnoli), castagnoli, payload)
	binary.BigEndian.PutUint32(h[4:8], crc)
	buf = append(buf, h[:]...)
	buf = append(buf, typ)
	return append(buf, payload...)
}

// errTorn reports entries at the end of the log that a crash cut short
// (or that were damaged): what follows the last whole entry.
var errTorn = errors.New("an entry cut short or damaged")

// readEntry reads the entry at off of f (size bytes long), returning its
// type, its payload and its span.
func readEntry(f io.ReaderAt, off, size int64) (byte, []byte, span, error) {
	var h [entryHeader]byte
	if size-off < entryHeader {
		return 0, nil, span{}, errTorn
	}
	if _, err := f.ReadAt(h[:], off); err != nil {
		return 0, nil, span{}, fmt.Errorf("reading at %d: %w", off, err)
	}
	n := int64(binary.BigEndian.Uint32(h[0:4]))
	if n < 1 || n > recordMaxSize+1 || off+entryHeader+n > size {
		return 0, nil, span{}, errTorn
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off+entryHeader); err != nil {
		return 0, nil, span{}, fmt.Errorf("reading at %d: %w", off, err)
	}
	if crc32.Checksum(b, castagnoli) != binary.BigEndian.Uint32(h[4:8]) {
		return 0, nil, span{}, errTorn
	}
	return b[0], b[1:], span{off: off, n: int(entryHeader + n)}, nil
}

// logState is what a log holds: each job's latest record and its entry,
// in the order the jobs first appear, and the entries of the unfinished
// arrays' task results.
type logState struct {
	recs      map[string]*api.JobRecord
	spans     map[string]span
	taskSpans map[string][]span
	tasks     map[string][]job.TaskResult // while scanning
	order     []string
	end       int64 // the end of the last whole entry
	torn      int64 // bytes past end that are not whole entries
	bad       []error
}

func newLogState() *logState {
	return &logState{recs: map[string]*api.JobRecord{}, spans: map[string]span{},
		taskSpans: map[string][]span{}, tasks: map[string][]job.TaskResult{}}
}

// scanLog reads the log of f (size bytes long).
func scanLog(f io.ReaderAt, size int64) (*logState, error) {
	st := newLogState()
	for off := int64(0); off < size; {
		typ, payload, sp, err := readEntry(f, off, size)
		if errors.Is(err, errTorn) {
			st.torn = size - off
			break
		}
		if err != nil {
			return nil, err
		}
		off += int64(sp.n)
		st.end = off
		switch typ {
		case entryRecord:
			r, err := decodeRecord(payload)
			if err != nil {
				st.bad = append(st.bad, fmt.Errorf("the entry at offset %d: %w", sp.off, err))
				continue
			}
			if _, ok := st.recs[r.ID]; !ok {
				st.order = append(st.order, r.ID)
			}
			st.recs[r.ID], st.spans[r.ID] = r, sp
		case entryRemove:
			id := string(payload)
			delete(st.recs, id)
			delete(st.spans, id)
			delete(st.tasks, id)
			delete(st.taskSpans, id)
		case entryTasks:
			st.scanTasks(payload, sp)
		default:
			st.bad = append(st.bad, fmt.Errorf("the entry at offset %d: unknown type %q", sp.off, typ))
		}
	}
	st.gatherTasks()
	return st, nil
}

// readLog reads dir's log without changing it (none: an empty state).
func readLog(dir string) (*logState, error) {
	f, err := os.Open(filepath.Join(dir, logName))
	if errors.Is(err, os.ErrNotExist) {
		return newLogState(), nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return scanLog(f, fi.Size())
}

// readRecordAt reads the record whose entry is at sp in f.
func readRecordAt(f io.ReaderAt, sp span) (*api.JobRecord, error) {
	typ, payload, _, err := readEntry(f, sp.off, sp.off+int64(sp.n))
	if err != nil {
		return nil, err
	}
	if typ != entryRecord {
		return nil, fmt.Errorf("the entry at offset %d is not a record", sp.off)
	}
	return decodeRecord(payload)
}

// liveEntries are the entries a compacted log keeps: each kept record's
// latest, and the unfinished arrays' task results.
type liveEntries struct {
	records map[string]span
	tasks   map[string][]span
}

// compactLog writes the entries live of old into a new log of dir and
// renames it over the old one, returning the new log (open for appending),
// its size and the entries' new spans.
func compactLog(dir string, old io.ReaderAt, live liveEntries) (*os.File, int64, liveEntries, error) {
	tmp := filepath.Join(dir, logTmpName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, liveEntries{}, err
	}
	fail := func(err error) (*os.File, int64, liveEntries, error) {
		f.Close()
		os.Remove(tmp)
		return nil, 0, liveEntries{}, err
	}
	var buf []byte
	moved := liveEntries{records: make(map[string]span, len(live.records)), tasks: make(map[string][]span, len(live.tasks))}
	copyEntry := func(id string, sp span) (span, error) {
		b := make([]byte, sp.n)
		if _, err := old.ReadAt(b, sp.off); err != nil {
			return span{}, fmt.Errorf("reading an entry of %s: %w", id, err)
		}
		buf = append(buf, b...)
		return span{off: int64(len(buf) - sp.n), n: sp.n}, nil
	}
	for id, sp := range live.records {
		if moved.records[id], err = copyEntry(id, sp); err != nil {
			return fail(err)
		}
	}
	for id, sps := range live.tasks {
		for _, sp := range sps {
			to, err := copyEntry(id, sp)
			if err != nil {
				return fail(err)
			}
			moved.tasks[id] = append(moved.tasks[id], to)
		}
	}
	if _, err := f.Write(buf); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, logName)); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return f, int64(len(buf)), moved, nil
}
