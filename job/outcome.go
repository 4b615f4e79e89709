package job

import "time"

// State is the state of a job as a client reports it. An outcome carries
// one of the final states below; a client's job record also has states of
// a job still under way (see api.JobSubmitted and the others).
type State string

// Final job states of an outcome.
const (
	StateCompleted   State = "completed"
	StateFailed      State = "failed"
	StateTimeout     State = "timeout"
	StateUnscheduled State = "unscheduled"
	StateCancelled   State = "cancelled"
)

// EventKind is the kind of one step of a job's progress (Event.Kind).
type EventKind string

// Event kinds of a job's progress, as the client sees it.
const (
	EventCandidates EventKind = "candidates" // Count candidates found
	EventRequest              = "request"    // the request is gossiped
	EventBid                  = "bid"        // a bid arrived (Count: jobs queued ahead of it at the provider)
	EventDecline              = "decline"    // a provider declined (Decline: its reason code; Message says why)
	EventClosed               = "closed"     // the bid window closed (Message says why)
	EventRejected             = "rejected"   // a bid failed a feasibility check (Reject: which; Message says why)
	EventWinner               = "winner"     // the auction chose Provider (Message says why)
	EventFailover             = "failover"   // the winner declined or died (Verdict says which): trying the next bid
	EventRunning              = "running"    // the winner accepted and runs the job
	EventLog                  = "log"        // Message is a chunk of the job's stdout and stderr, as it runs
	EventQueued               = "queued"     // the winner queued the job (Count is its position)
	EventWaiting              = "waiting"    // no provider now: the client waits and auctions again (Message says why)
	EventHeld                 = "held"       // the client holds the job back until one of its auctions ends (Count: auctions in flight)
	EventReplica              = "replica"    // a replica's result (Verdict: majority or minority; Message: with its output key)
	EventTransfer             = "transfer"   // the job's outputs are being fetched: Message says how much so far (every second of a long fetch)
	EventDeferred             = "deferred"   // the job waits for a greener hour before its first auction (Message says until when and why)
	EventDone                 = "done"
)

// Verdict is how one attempt of a job (one award to one provider) ended.
// An attempt that lasted to the job's end takes the outcome's state as its
// verdict (VerdictOf).
type Verdict string

// Verdicts of an attempt that did not end the job, or of a replica.
const (
	VerdictDeclined    Verdict = "declined"    // the provider declined the award
	VerdictFailed      Verdict = "failed"      // the provider failed, died or fell silent
	VerdictInterrupted Verdict = "interrupted" // the client node stopped during the attempt
	VerdictMajority    Verdict = "majority"    // a replica whose output the majority shares
	VerdictMinority    Verdict = "minority"    // a replica whose output disagrees with the majority's
)

// VerdictOf is the verdict of an attempt that lasted to the job's end in
// state s.
func VerdictOf(s State) Verdict { return Verdict(s) }

// RejectReason is which of a client's feasibility checks an answer to its
// request failed (scheduler.Checks and the others).
type RejectReason string

// Reasons a client rejects an answer.
const (
	RejectDeclined   RejectReason = "declined"   // the answer is a decline, not a bid
	RejectOtherJob   RejectReason = "other_job"  // the bid is for another job
	RejectExpired    RejectReason = "expired"    // the bid has expired
	RejectRegion     RejectReason = "region"     // the provider's region is not one the job allows
	RejectRates      RejectReason = "rates"      // the bid's price does not follow from its rates
	RejectMaxPrice   RejectReason = "max_price"  // the price is over the job's max price
	RejectCapacity   RejectReason = "capacity"   // the provider's capacity record says it cannot serve the job
	RejectReputation RejectReason = "reputation" // the provider's reputation is below the job's minimum
	RejectDeadline   RejectReason = "deadline"   // the job would wait past its deadline before it starts there
	RejectCarbon     RejectReason = "carbon"     // the bid's carbon intensity is not what the provider's record declares for the run
	RejectMaxCarbon  RejectReason = "max_carbon" // the job's estimated emissions there pass its max carbon (or no intensity is declared)
)

// Event is one step of a job's progress. Its typed codes (Verdict,
// Decline, Reject) say what happened; Message says it in words, for people.
type Event struct {
	Kind     EventKind     `json:"kind"`
	Job      string        `json:"job"`
	Provider string        `json:"provider,omitempty"`
	Region   string        `json:"region,omitempty"`
	Price    Credits       `json:"price_nano,omitempty"`
	RTT      time.Duration `json:"rtt_ns,omitempty"`
	Count    int           `json:"count,omitempty"`
	Message  string        `json:"message,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"` // since the job was submitted
	// Verdict is how an attempt ended (failover and replica events).
	Verdict Verdict `json:"verdict,omitempty"`
	// Decline is a decline's reason code (decline events).
	Decline DeclineReason `json:"decline,omitempty"`
	// Reject is which of the client's checks a bid failed (rejected events).
	Reject RejectReason `json:"reject,omitempty"`
	// Carbon is the bid's carbon intensity (bid and winner events).
	Carbon Intensity `json:"carbon,omitempty"`
}

// Timings are the phases of a job, in milliseconds.
type Timings struct {
	Discover float64 `json:"discover"`
	Auction  float64 `json:"auction"`
	Run      float64 `json:"run"`
	Total    float64 `json:"total"`
}

// Outcome is the end of a job as the client reports it.
type Outcome struct {
	Job        string  `json:"job"`
	State      State   `json:"state"`
	Provider   string  `json:"provider,omitempty"`
	Region     string  `json:"region,omitempty"`
	Price      Credits `json:"price_nano"`
	Charge     Credits `json:"charge_nano"`
	Bids       int     `json:"bids"`
	Declines   int     `json:"declines"`
	Candidates int     `json:"candidates"`
	Attempts   int     `json:"attempts"`
	Reason     string  `json:"reason,omitempty"` // why the winner won
	ExitCode   int     `json:"exit_code"`
	Stdout     []byte  `json:"stdout,omitempty"`
	Stderr     []byte  `json:"stderr,omitempty"`
	Error      string  `json:"error,omitempty"`
	Outputs    string  `json:"outputs,omitempty"` // manifest CID, held by the client
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	GPUSeconds float64 `json:"gpu_seconds,omitempty"`
	// PeakMemoryBytes is the most memory the job held (see the executors).
	PeakMemoryBytes uint64  `json:"peak_memory_bytes,omitempty"`
	Timings         Timings `json:"timings_ms"`
	// Replicas are the runs of a replicated job; Minority the providers
	// whose output disagreed with the majority's.
	Replicas []Replica `json:"replicas,omitempty"`
	Minority []string  `json:"minority,omitempty"`
	// Tasks are a job array's tasks, by index (see TaskResult); Charge is
	// then their sum.
	Tasks []TaskResult `json:"tasks,omitempty"`
	// Carbon is the winner's declared intensity for the run, Emissions
	// the run's estimated emissions at it (the energy model over the run
	// time; 0 when no intensity was declared).
	Carbon    Intensity `json:"carbon,omitempty"`
	Emissions Carbon    `json:"emissions_ug,omitempty"`
}

// Replica is one run of a replicated job.
type Replica struct {
	Provider string  `json:"provider"`
	Output   string  `json:"output,omitempty"` // outputs CID, or a digest of exit code and stdout
	Charge   Credits `json:"charge_nano"`
	Majority bool    `json:"majority"`
	Error    string  `json:"error,omitempty"`
}
