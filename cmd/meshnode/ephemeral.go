package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/node"
)

// A job submitted through an ephemeral client (submit --bootstrap) keeps
// its record all the same: each such submit writes its own records folder
// under <default data dir>/ephemeral/ (one writer each; the newest
// maxEphemeralRecords are kept), which `jobs` and `job describe` read
// beside the default data dir's.

// maxEphemeralRecords bounds the ephemeral submits whose records are kept.
const maxEphemeralRecords = 200

// ephemeralRoot is where ephemeral clients keep their job records.
func ephemeralRoot() string { return filepath.Join(defaultDataDir(), "ephemeral") }

// newEphemeralRecords makes a records folder for one ephemeral submit
// (a data dir of job records only) and drops the oldest beyond the bound.
func newEphemeralRecords() (string, error) {
	root := ephemeralRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", netErr(fmt.Errorf("job records of an ephemeral client: %w", err))
	}
	dir, err := os.MkdirTemp(root, time.Now().UTC().Format("20060102T150405-"))
	if err != nil {
		return "", netErr(fmt.Errorf("job records of an ephemeral client: %w", err))
	}
	if old := ephemeralDirs(); len(old) > maxEphemeralRecords {
		for _, d := range old[maxEphemeralRecords:] {
			_ = os.RemoveAll(d)
		}
	}
	return dir, nil
}

// ephemeralDirs returns the ephemeral submits' records folders, newest
// first.
func ephemeralDirs() []string {
	entries, err := os.ReadDir(ephemeralRoot())
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(ephemeralRoot(), e.Name()))
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// ephemeralJobs lists the jobs ephemeral clients submitted, newest first.
func ephemeralJobs() []api.JobSummary {
	var out []api.JobSummary
	for _, d := range ephemeralDirs() {
		list, _ := node.ReadJobs(d)
		out = append(out, list...)
	}
	return out
}

// ephemeralJob finds a job an ephemeral client submitted.
func ephemeralJob(ref string) (*api.JobRecord, error) {
	for _, d := range ephemeralDirs() {
		rec, err := node.ReadJob(d, ref)
		if err == nil || !errors.Is(err, node.ErrUnknownJob) {
			return rec, err
		}
	}
	return nil, fmt.Errorf("%w: %s", node.ErrUnknownJob, ref)
}
