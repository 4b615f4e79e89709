package api

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/job"
)

// ProviderInfo is a provider as a search finds it (POST /v1/providers).
type ProviderInfo struct {
	Record   *job.Capacity `json:"record,omitempty"`
	Peer     string        `json:"peer"`
	RTT      time.Duration `json:"rtt_ns"`
	Mismatch string        `json:"mismatch,omitempty"` // why it does not match ("" when it does)
	Error    string        `json:"error,omitempty"`    // why its record could not be had
	// Unreachable says why it did not answer a ping: a provider that
	// left stays listed by the DHT, and its record until it expires.
	Unreachable string `json:"unreachable,omitempty"`
}

// Mismatches counts why providers do not match, e.g.
// "0 of 6 providers match: 4 no GPU, 2 VRAM < 40GiB".
func Mismatches(ps []ProviderInfo) string {
	reasons := map[string]int{}
	match := 0
	for _, p := range ps {
		switch {
		case p.Error != "":
			reasons["no valid record"]++
		case p.Unreachable != "":
			reasons["unreachable (left?)"]++
		case p.Mismatch != "":
			reasons[p.Mismatch]++
		default:
			match++
		}
	}
	s := fmt.Sprintf("%d of %d providers match", match, len(ps))
	if len(reasons) > 0 {
		var parts []string
		for r, k := range reasons {
			parts = append(parts, fmt.Sprintf("%d %s", k, r))
		}
		slices.Sort(parts)
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

// ChallengeResult is the verdict on a provider's claimed benchmark score
// (POST /v1/challenge).
type ChallengeResult struct {
	Peer        string        `json:"peer"`
	Passed      bool          `json:"passed"`
	Reason      string        `json:"reason"`
	ClaimedMBps float64       `json:"claimed_hash_mb_s"`
	Expected    time.Duration `json:"expected_ns"` // from the claimed score
	Measured    time.Duration `json:"measured_ns"` // round trip, as the node saw it
}
