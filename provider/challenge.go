package provider

import (
	"bufio"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// serveChallenges answers benchmark challenges, one at a time: each costs
// about 0.1 s of one core.
func (p *Provider) serveChallenges() {
	busy := make(chan struct{}, 1)
	p.serve(job.ProtocolChallenge, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(30 * time.Second))
		var req job.ChallengeRequest
		if err := mesh.ReadMsg(bufio.NewReader(s), 256, &req); err != nil {
			_ = mesh.WriteMsg(s, job.ChallengeResponse{Error: "invalid challenge: " + err.Error()})
			return
		}
		select {
		case busy <- struct{}{}:
			defer func() { <-busy }()
		default:
			_ = mesh.WriteMsg(s, job.ChallengeResponse{Error: "busy with another challenge"})
			return
		}
		answer, elapsed := hwprobe.Challenge(req.Seed)
		_ = mesh.WriteMsg(s, job.ChallengeResponse{Answer: answer[:], ElapsedNS: int64(elapsed)})
	})
}
