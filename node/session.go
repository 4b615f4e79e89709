package node

import (
	"sync"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// session counts what the node earned and spent since it started (its
// ledger holds the whole history). Safe for concurrent use.
type session struct {
	mu sync.Mutex
	b  api.Session
}

// earn records a charge this node earned for running a job.
func (s *session) earn(c job.Credits) {
	s.mu.Lock()
	s.b.Earned += c
	s.b.JobsRun++
	s.mu.Unlock()
}

// spend records a charge this node paid for a job.
func (s *session) spend(c job.Credits) {
	s.mu.Lock()
	s.b.Spent += c
	s.b.JobsPaid++
	s.mu.Unlock()
}

// snapshot returns the totals so far.
func (s *session) snapshot() api.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b
}
