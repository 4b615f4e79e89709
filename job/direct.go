package job

import "fmt"

// Protocols of the direct streams both roles speak besides the award
// (names under the mesh's protocol prefix).
const (
	// ProtocolChallenge: a client asks a provider to run the benchmark
	// chain on a seed (ChallengeRequest, then ChallengeResponse).
	ProtocolChallenge = "challenge"
	// ProtocolHold: a client asks a provider to keep its bid for a job
	// (Hold).
	ProtocolHold = "hold"
)

// ChallengeRequest asks a provider to run the benchmark chain on Seed.
type ChallengeRequest struct {
	Seed []byte `json:"seed"`
}

// Validate checks the request.
func (r *ChallengeRequest) Validate() error {
	if len(r.Seed) < 16 || len(r.Seed) > 64 {
		return fmt.Errorf("seed: %d bytes, want 16 to 64", len(r.Seed))
	}
	return nil
}

// ChallengeResponse is a provider's answer to a challenge, and how long
// the chain took it (or why it did not run it).
type ChallengeResponse struct {
	Answer    []byte `json:"answer"`
	ElapsedNS int64  `json:"elapsed_ns"`
	Error     string `json:"error,omitempty"`
}

// Hold asks a provider to keep its bid for a job: its client names it as
// a backup of the job's current attempt.
type Hold struct {
	V   int    `json:"v"`
	Job string `json:"job"`
}

// Validate checks a hold.
func (h *Hold) Validate() error {
	if h.V != Version {
		return fmt.Errorf("v: version %d, want %d", h.V, Version)
	}
	if _, err := ParseCID(h.Job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}
