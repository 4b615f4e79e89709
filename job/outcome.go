package job

import "time"

// Job states a client reports.
const (
	StateCompleted   = "completed"
	StateFailed      = "failed"
	StateTimeout     = "timeout"
	StateUnscheduled = "unscheduled"
	StateCancelled   = "cancelled"
)

// Event kinds of a job's progress, as the client sees it.
const (
	EventCandidates = "candidates" // Count candidates found
	EventRequest    = "request"    // the request is gossiped
	EventBid        = "bid"        // a bid arrived (Count: jobs queued ahead of it at the provider)
	EventDecline    = "decline"    // a provider declined (Message says why)
	EventClosed     = "closed"     // the bid window closed (Message says why)
	EventRejected   = "rejected"   // a bid failed a feasibility check
	EventWinner     = "winner"     // the auction chose Provider (Message says why)
	EventFailover   = "failover"   // the winner declined or died: trying the next bid
	EventRunning    = "running"    // the winner accepted and runs the job
	EventLog        = "log"        // Message is a chunk of the job's stdout and stderr, as it runs
	EventQueued     = "queued"     // the winner queued the job (Count is its position)
	EventWaiting    = "waiting"    // no provider now: the client waits and auctions again (Message says why)
	EventReplica    = "replica"    // a replica's result (Message: its output key, majority or minority)
	EventDone       = "done"
)

// Event is one step of a job's progress.
type Event struct {
	Kind     string        `json:"kind"`
	Job      string        `json:"job"`
	Provider string        `json:"provider,omitempty"`
	Region   string        `json:"region,omitempty"`
	Price    Credits       `json:"price_nano,omitempty"`
	RTT      time.Duration `json:"rtt_ns,omitempty"`
	Count    int           `json:"count,omitempty"`
	Message  string        `json:"message,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"` // since the job was submitted
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
	State      string  `json:"state"`
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
}

// Replica is one run of a replicated job.
type Replica struct {
	Provider string  `json:"provider"`
	Output   string  `json:"output,omitempty"` // outputs CID, or a digest of exit code and stdout
	Charge   Credits `json:"charge_nano"`
	Majority bool    `json:"majority"`
	Error    string  `json:"error,omitempty"`
}
