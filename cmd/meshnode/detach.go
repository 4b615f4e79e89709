package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// A job submitted through a running node belongs to the node, not to the
// submit process: `submit --detach` prints its ID and returns, and an
// interrupted submit (Ctrl-C) stops following it while the node goes on
// (api.SubmitRequest.Detach). logs -f follows it again, cancel stops it.

// submitDetached submits req (Detach set) and prints the job's ID: alone
// on stdout (or as JSON), with what to do next on stderr.
func submitDetached(ctx context.Context, stdout, stderr io.Writer, c *api.Client, req api.SubmitRequest, asJSON bool) error {
	out, err := c.Submit(ctx, req, nil)
	if msg, ok := api.BadRequest(err); ok {
		return usageErr("%s", msg)
	}
	if err != nil {
		return netErr(err)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			Job   string    `json:"job"`
			State job.State `json:"state"`
		}{out.Job, out.State})
	}
	fmt.Fprintln(stdout, out.Job)
	if out.State == api.JobSubmitted {
		fmt.Fprintf(stderr, "job %s submitted; the node goes on with it: meshnode logs -f %s follows it, meshnode cancel %s stops it (--data-dir as here)\n",
			short(out.Job), short(out.Job), short(out.Job))
		return nil
	}
	return report(io.Discard, stderr, out, false) // it ended before its ID came back
}

// jobOf remembers the ID of the job whose events pass through it.
type jobOf struct{ id string }

func (j *jobOf) watch(next func(job.Event)) func(job.Event) {
	return func(e job.Event) {
		if e.Job != "" {
			j.id = e.Job
		}
		if next != nil {
			next(e)
		}
	}
}

// interrupted is what an interrupted submit through a node says: the job
// goes on there.
func interrupted(stderr io.Writer, id string) error {
	if id == "" {
		fmt.Fprintln(stderr, "interrupted before the node named the job: meshnode jobs lists what it runs")
	} else {
		fmt.Fprintf(stderr, "interrupted: job %s goes on in the node: meshnode logs -f %s follows it, meshnode cancel %s stops it\n",
			short(id), short(id), short(id))
	}
	return silentExit(exitDetached)
}
