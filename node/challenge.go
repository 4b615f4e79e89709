package node

import (
	"bufio"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// The challenge's wire types are job's: the client role asks, this
// side answers.
type (
	challengeReq  = job.ChallengeRequest
	challengeResp = job.ChallengeResponse
)

// serveChallenges answers benchmark challenges, one at a time: each costs
// about 0.1 s of one core.
func (n *Node) serveChallenges() {
	busy := make(chan struct{}, 1)
	n.serve("challenge", func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(30 * time.Second))
		var req challengeReq
		if err := mesh.ReadMsg(bufio.NewReader(s), 256, &req); err != nil {
			_ = mesh.WriteMsg(s, challengeResp{Error: "invalid challenge: " + err.Error()})
			return
		}
		select {
		case busy <- struct{}{}:
			defer func() { <-busy }()
		default:
			_ = mesh.WriteMsg(s, challengeResp{Error: "busy with another challenge"})
			return
		}
		answer, elapsed := hwprobe.Challenge(req.Seed)
		_ = mesh.WriteMsg(s, challengeResp{Answer: answer[:], ElapsedNS: int64(elapsed)})
	})
}

// ownHashScore is this node's own SHA-256 MB/s per core: a provider's
// measured score, else one measured once (about 0.2 s) on first use.
func (n *Node) ownHashScore() float64 {
	own := &n.ownScore
	own.once.Do(func() {
		if n.pub != nil && !n.record.Simulated && n.record.Score.HashMBps > 0 {
			own.score = n.record.Score.HashMBps
			return
		}
		rep := hwprobe.Probe(n.ctx)
		if rep.Benchmark != nil {
			own.score = rep.Benchmark.HashMBPerSecPerCore
		}
	})
	return max(own.score, 1)
}
