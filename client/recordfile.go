package client

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/atomicfile"
)

// RecordError is a record file that could not be read.
type RecordError struct {
	File string
	Err  error
}

func (e *RecordError) Error() string { return fmt.Sprintf("job record %s: %v", e.File, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// loadRecords reads every record in dir, without changing anything: the
// journal's log and the record files of older versions (one JSON file per
// job; the log's record of a job wins). A record that cannot be read is
// reported — a *RecordError naming its file — and skipped; the others are
// returned, oldest submission first.
func loadRecords(dir string) ([]*api.JobRecord, []error) {
	st, err := readLog(dir)
	if err != nil {
		return nil, []error{&RecordError{File: filepath.Join(dir, logName), Err: err}}
	}
	var errs []error
	for _, e := range st.bad {
		errs = append(errs, &RecordError{File: filepath.Join(dir, logName), Err: e})
	}
	legacy, lerrs := loadRecordFiles(dir)
	errs = append(errs, lerrs...)
	recs := make([]*api.JobRecord, 0, len(st.recs)+len(legacy))
	for _, id := range st.order {
		if r := st.recs[id]; r != nil {
			recs = append(recs, r)
		}
	}
	for _, r := range legacy {
		if st.recs[r.ID] == nil {
			recs = append(recs, r)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Submitted.Before(recs[j].Submitted) })
	return recs, errs
}

// loadRecordFiles reads the record files (<job ID>.json) of older versions
// in dir (a missing dir holds none).
func loadRecordFiles(dir string) ([]*api.JobRecord, []error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("job records: %w", err)}
	}
	var recs []*api.JobRecord
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		r, err := readRecord(path)
		if err == nil && r.ID+".json" != name {
			err = fmt.Errorf("holds job %s", r.ID)
		}
		if err != nil {
			errs = append(errs, &RecordError{File: path, Err: err})
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}

func readRecord(path string) (*api.JobRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, recordMaxSize+1))
	if err != nil {
		return nil, err
	}
	return decodeRecord(b)
}

// writeAtomic replaces path with b (mode 0600): a temporary file in the
// same directory, named recordTmpPrefix* (which openJournal removes when a
// crash left it behind), synced, renamed over path, then the directory
// synced, so that a crash leaves either the old record or the new one,
// never a mix.
func writeAtomic(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o600, atomicfile.TempPrefix(recordTmpPrefix))
}

// syncDir fsyncs dir, so that the names in it survive a crash.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
