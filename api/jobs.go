package api

import (
	"time"

	"github.com/computemesh/computemesh/job"
)

// Job states of a record while its job is unfinished (finished records
// carry the outcome's state, job.State*).
const (
	JobSubmitted job.State = "submitted"
	JobAuction   job.State = "auction"
	JobWaiting   job.State = "waiting"
	JobAwarded   job.State = "awarded"
	JobQueued    job.State = "queued"
	JobRunning   job.State = "running"
	JobResumed   job.State = "resumed"  // reloaded after a restart, not yet placed again
	JobDeferred  job.State = "deferred" // waiting for a greener hour (or its not-before) before its first auction
)

// JobRecord is what a client node keeps of one job it submitted (GET
// /v1/jobs/{id}; the node's data dir holds one per job). Secrets are never
// kept: only whether the submission had any.
type JobRecord struct {
	V     int      `json:"v"`
	ID    string   `json:"id"`
	Nonce []byte   `json:"nonce"`
	Spec  job.Spec `json:"spec"`
	// State is the job's state now (JobSubmitted, ... or the outcome's).
	State     job.State `json:"state"`
	Submitted time.Time `json:"submitted"`
	Updated   time.Time `json:"updated"`
	Finished  time.Time `json:"finished,omitzero"`
	// Submission options.
	BidWindowMS int64 `json:"bid_window_ms,omitempty"`
	DeadlineMS  int64 `json:"deadline_ms,omitempty"`   // unix ms
	MaxWaitMS   int64 `json:"max_wait_ms,omitempty"`   // soft bound on the queue wait (a batch's)
	NotBeforeMS int64 `json:"not_before_ms,omitempty"` // unix ms: the job starts no earlier
	// Deferred says why the job waited before its first auction: until
	// its not-before, or for a greener hour within its deadline (issue #19).
	Deferred string `json:"deferred,omitempty"`
	Secrets  bool   `json:"secrets,omitempty"` // the submission had secrets (their values are never stored)
	// ModuleStored says the module's bytes are in the node's content store
	// under Spec.Module (needed to resume the job).
	ModuleStored bool `json:"module_stored,omitempty"`
	// Resumes counts the restarts of the client the job went through.
	Resumes int `json:"resumes,omitempty"`

	// Rounds are the last auctions of the job (RoundsDropped counts the
	// older ones the node no longer keeps).
	Rounds        []Round `json:"rounds,omitempty"`
	RoundsDropped int     `json:"rounds_dropped,omitempty"`
	// Attempted is how many awards were made (attempt numbers go on from
	// it after a restart); Attempts are the last of them the node keeps.
	Attempted int       `json:"attempted"`
	Attempts  []Attempt `json:"attempts,omitempty"`

	// Tasks are, while a job array is unfinished, the results of its tasks
	// that have ended so far, in index order: the node keeps them across a
	// restart and runs only the other tasks again. The journal writes them
	// apart from the record, in batches; once the array ends they are in
	// the outcome, and this is empty.
	Tasks []job.TaskResult `json:"tasks,omitempty"`

	// Outcome is the job's end, set exactly once. Its stdout and stderr
	// are cut to a bound the node keeps (OutputCut says so).
	Outcome   *job.Outcome `json:"outcome,omitempty"`
	OutputCut bool         `json:"output_cut,omitempty"`
}

// Round is one auction of a job.
type Round struct {
	Started    time.Time   `json:"started"`
	Candidates int         `json:"candidates"`
	Closed     string      `json:"closed,omitempty"` // why bidding closed
	Answers    []RoundBid  `json:"answers,omitempty"`
	Rejected   []Rejection `json:"rejected,omitempty"`
	Awarded    []string    `json:"awarded,omitempty"` // providers awarded, in order
	Waiting    string      `json:"waiting,omitempty"` // no provider: why the job waited for another round
}

// RoundBid is a bid or a decline.
type RoundBid struct {
	Provider string        `json:"provider"`
	Region   string        `json:"region,omitempty"`
	Price    job.Credits   `json:"price_nano,omitempty"`
	Queue    int           `json:"queue,omitempty"`   // jobs queued ahead at the provider
	Carbon   job.Intensity `json:"carbon,omitempty"`  // the bid's declared carbon intensity for the run
	Decline  string        `json:"decline,omitempty"` // why it declined (a decline)
	// Code is a decline's reason code (records written before it existed
	// have none).
	Code job.DeclineReason `json:"code,omitempty"`
}

// Rejection is a bid that failed the client's checks.
type Rejection struct {
	Provider string      `json:"provider"`
	Price    job.Credits `json:"price_nano,omitempty"`
	Reason   string      `json:"reason"`
	// Code is which check the bid failed (records written before it
	// existed have none).
	Code job.RejectReason `json:"code,omitempty"`
}

// Attempt is one award of a job to a provider.
type Attempt struct {
	N        int           `json:"n"`
	Provider string        `json:"provider"`
	Region   string        `json:"region,omitempty"`
	Price    job.Credits   `json:"price_nano,omitempty"`
	Why      string        `json:"why,omitempty"` // why it was chosen
	Queue    int           `json:"queue,omitempty"`
	Start    time.Time     `json:"start"`
	Running  time.Time     `json:"running,omitzero"` // when the provider accepted
	End      time.Time     `json:"end,omitzero"`
	Result   job.Verdict   `json:"result,omitempty"` // completed, failed, declined, interrupted, majority, ...
	Error    string        `json:"error,omitempty"`
	Charge   job.Credits   `json:"charge_nano,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// JobSummary is one line of the job list (GET /v1/jobs).
type JobSummary struct {
	ID        string      `json:"id"`
	Name      string      `json:"name,omitempty"`
	State     job.State   `json:"state"`
	Submitted time.Time   `json:"submitted"`
	Finished  time.Time   `json:"finished,omitzero"`
	Provider  string      `json:"provider,omitempty"`
	Region    string      `json:"region,omitempty"`
	Charge    job.Credits `json:"charge_nano"`
	Attempts  int         `json:"attempts"`
	Outputs   string      `json:"outputs,omitempty"` // the outputs' CID, in this node's store
}

// Summary returns the record's line of the job list.
func (r *JobRecord) Summary() JobSummary {
	s := JobSummary{ID: r.ID, Name: r.Spec.Name, State: r.State, Submitted: r.Submitted, Finished: r.Finished, Attempts: r.Attempted}
	if r.Outcome != nil {
		s.Provider, s.Region, s.Charge, s.Outputs = r.Outcome.Provider, r.Outcome.Region, r.Outcome.Charge, r.Outcome.Outputs
		s.Attempts = max(s.Attempts, r.Outcome.Attempts)
	} else if n := len(r.Attempts); n > 0 {
		s.Provider, s.Region = r.Attempts[n-1].Provider, r.Attempts[n-1].Region
	}
	return s
}

// Done reports whether the record has its final outcome.
func (r *JobRecord) Done() bool { return r.Outcome != nil }
