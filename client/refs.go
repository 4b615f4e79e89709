package client

import (
	"fmt"
	"path/filepath"

	"github.com/computemesh/computemesh/api"
)

// RecordRefs are the blobs the job records of a data dir on which no node
// runs need kept (see Client.Refs). An unreadable record is an error: what
// it names cannot be known.
func RecordRefs(dataDir string) ([]string, error) {
	recs, errs := loadRecords(filepath.Join(dataDir, JobsDir))
	if len(errs) > 0 {
		return nil, fmt.Errorf("job records: %w", errs[0])
	}
	var out []string
	for _, rec := range recs {
		out = append(out, recordRefs(rec)...)
	}
	return out, nil
}

// recordRefs are the blobs a job record needs kept: its outputs, and while
// it is unfinished its inputs and stored module.
func recordRefs(r *api.JobRecord) []string {
	var out []string
	if r.Outcome != nil {
		if r.Outcome.Outputs != "" {
			out = append(out, r.Outcome.Outputs)
		}
		return out
	}
	for _, in := range r.Spec.Inputs {
		if in.URL == "" { // a URL input's CID is what the provider checks, not a blob here
			out = append(out, in.CID)
		}
	}
	for _, t := range r.Tasks { // an unfinished array's tasks that ended
		if t.Outputs != "" {
			out = append(out, t.Outputs)
		}
	}
	if r.ModuleStored && r.Spec.Module != "" {
		out = append(out, r.Spec.Module)
	}
	return out
}

// refs are the blobs the journal's records need kept (see recordRefs).
func (j *journal) refs() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, r := range j.active {
		out = append(out, recordRefs(r)...)
	}
	for _, s := range j.done {
		if s.Outputs != "" {
			out = append(out, s.Outputs)
		}
	}
	return out
}
