package market

import (
	"sync"

	"github.com/computemesh/computemesh/job"
)

// Ledger is a node's running account: credits earned as a provider and spent
// as a client. It is safe for concurrent use.
type Ledger struct {
	mu     sync.Mutex
	earned job.Credits
	spent  job.Credits
	ran    int
	paid   int
}

// Balance is a snapshot of a Ledger.
type Balance struct {
	Earned   job.Credits `json:"earned_nano"`
	Spent    job.Credits `json:"spent_nano"`
	JobsRun  int         `json:"jobs_run"`  // as a provider
	JobsPaid int         `json:"jobs_paid"` // as a client
}

// Earn records a charge this node earned for running a job.
func (l *Ledger) Earn(c job.Credits) {
	l.mu.Lock()
	l.earned += c
	l.ran++
	l.mu.Unlock()
}

// Spend records a charge this node paid for a job.
func (l *Ledger) Spend(c job.Credits) {
	l.mu.Lock()
	l.spent += c
	l.paid++
	l.mu.Unlock()
}

// Balance returns the current totals.
func (l *Ledger) Balance() Balance {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Balance{Earned: l.earned, Spent: l.spent, JobsRun: l.ran, JobsPaid: l.paid}
}
