package provider

import (
	"bufio"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// ChallengeRequest is a benchmark challenge (ChallengeProtocol): a fresh
// seed for the SHA-256 chain (hwprobe.Challenge).
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

// ChallengeResponse is a provider's answer to a challenge: the chain's
// result and how long it took here, or why it did not run it.
type ChallengeResponse struct {
	Answer    []byte `json:"answer"`
	ElapsedNS int64  `json:"elapsed_ns"`
	Error     string `json:"error,omitempty"`
}

// serveChallenges answers benchmark challenges, one at a time: each costs
// about 0.1 s of one core.
func (p *Provider) serveChallenges() {
	busy := make(chan struct{}, 1)
	p.serve(ChallengeProtocol, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(30 * time.Second))
		var req ChallengeRequest
		if err := mesh.ReadMsg(bufio.NewReader(s), 256, &req); err != nil {
			_ = mesh.WriteMsg(s, ChallengeResponse{Error: "invalid challenge: " + err.Error()})
			return
		}
		select {
		case busy <- struct{}{}:
			defer func() { <-busy }()
		default:
			_ = mesh.WriteMsg(s, ChallengeResponse{Error: "busy with another challenge"})
			return
		}
		answer, elapsed := hwprobe.Challenge(req.Seed)
		_ = mesh.WriteMsg(s, ChallengeResponse{Answer: answer[:], ElapsedNS: int64(elapsed)})
	})
}
