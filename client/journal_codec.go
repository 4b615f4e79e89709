package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// The encodings of the journal's entries: a job's record (JSON, versioned
// with v) and a job array's task results (journal_tasks.go).

// validJobID accepts the IDs job.NewID makes (base32 CIDs): lower-case
// letters and digits only, so that an ID is always a safe file name.
func validJobID(id string) bool {
	if len(id) < 8 || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// decodeRecord decodes and checks one record file's contents.
func decodeRecord(b []byte) (*api.JobRecord, error) {
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	if len(b) > recordMaxSize {
		return nil, fmt.Errorf("%d bytes, limit %d", len(b), recordMaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var r api.JobRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding: data after the record")
	}
	switch {
	case r.V != recordVersion:
		return nil, fmt.Errorf("v: version %d, want %d", r.V, recordVersion)
	case !validJobID(r.ID):
		return nil, fmt.Errorf("id: %q is not a job ID", r.ID)
	case r.Submitted.IsZero():
		return nil, errors.New("submitted: missing")
	case r.State == "":
		return nil, errors.New("state: missing")
	case r.Attempted < 0 || r.Resumes < 0 || r.RoundsDropped < 0:
		return nil, errors.New("negative count")
	case r.Outcome != nil && r.Outcome.Job != r.ID:
		return nil, fmt.Errorf("outcome: for job %q, not %q", r.Outcome.Job, r.ID)
	}
	for i := range r.Tasks {
		t := &r.Tasks[i]
		if err := checkTaskResult(t); err != nil {
			return nil, fmt.Errorf("tasks: %w", err)
		}
		if t.Index >= r.Spec.Count || i > 0 && r.Tasks[i-1].Index >= t.Index {
			return nil, fmt.Errorf("tasks: task %d out of order or past the array's %d tasks", t.Index, r.Spec.Count)
		}
	}
	return &r, nil
}

func encodeRecord(r *api.JobRecord) []byte {
	b, err := json.Marshal(r)
	if err != nil { // a record has no types json cannot encode
		panic(fmt.Sprintf("node: encoding job record: %v", err))
	}
	return b
}

// encodeRecordEntry is a record's entry in the log: the record without
// its task results (their own entries hold them).
func encodeRecordEntry(r *api.JobRecord) []byte {
	if r.Tasks == nil {
		return encodeRecord(r)
	}
	c := *r
	c.Tasks = nil
	return encodeRecord(&c)
}

// taskEntry is the payload of an entryTasks entry.
type taskEntry struct {
	V     int              `json:"v"`
	Job   string           `json:"job"`
	Tasks []job.TaskResult `json:"tasks"`
}

func encodeTaskEntry(id string, tasks []job.TaskResult) []byte {
	b, err := json.Marshal(taskEntry{V: taskEntryVersion, Job: id, Tasks: tasks})
	if err != nil { // a task result has no types json cannot encode
		panic(fmt.Sprintf("client: encoding task results: %v", err))
	}
	return b
}

// decodeTaskEntry decodes and checks an entryTasks payload.
func decodeTaskEntry(b []byte) (*taskEntry, error) {
	if len(b) > recordMaxSize {
		return nil, fmt.Errorf("%d bytes, limit %d", len(b), recordMaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var e taskEntry
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decoding task results: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding task results: data after the entry")
	}
	switch {
	case e.V != taskEntryVersion:
		return nil, fmt.Errorf("task results: v: version %d, want %d", e.V, taskEntryVersion)
	case !validJobID(e.Job):
		return nil, fmt.Errorf("task results: job: %q is not a job ID", e.Job)
	case len(e.Tasks) == 0 || len(e.Tasks) > tasksPerEntry:
		return nil, fmt.Errorf("task results of job %s: %d tasks, want 1 to %d", e.Job, len(e.Tasks), tasksPerEntry)
	}
	for i := range e.Tasks {
		if err := checkTaskResult(&e.Tasks[i]); err != nil {
			return nil, fmt.Errorf("task results of job %s: %w", e.Job, err)
		}
	}
	return &e, nil
}

// checkTaskResult checks a task's result as the journal keeps it: a task
// that ended (completed, failed or timed out), within the bounds.
func checkTaskResult(t *job.TaskResult) error {
	switch {
	case t.Index < 0 || t.Index >= job.MaxCount:
		return fmt.Errorf("task %d: index out of range (0 to %d)", t.Index, job.MaxCount-1)
	case t.State != job.StateCompleted && t.State != job.StateFailed && t.State != job.StateTimeout:
		return fmt.Errorf("task %d: state %q is not an end a task is kept with", t.Index, t.State)
	case t.Charge < 0 || t.Attempts < 0 || t.RunMS < 0:
		return fmt.Errorf("task %d: negative charge, attempts or run time", t.Index)
	case len(t.Stdout) > taskOutputMax || len(t.Stderr) > taskOutputMax:
		return fmt.Errorf("task %d: stdout or stderr over %d bytes", t.Index, taskOutputMax)
	}
	return nil
}
