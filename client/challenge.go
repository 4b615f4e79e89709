package client

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// challengeSlack is how many times slower than its claimed score promises
// a provider may answer a challenge before it is reported (networks and
// loaded machines vary; a lie that matters is larger).
const challengeSlack = 8

// Challenge asks provider p to run the benchmark chain on a fresh random
// seed, checks the answer by recomputing it, and compares the time the
// round trip took with what p's claimed score promises. A wrong answer or a
// time more than challengeSlack times the promise fails.
func (c *Client) Challenge(ctx context.Context, p peer.ID) (api.ChallengeResult, error) {
	res := api.ChallengeResult{Peer: p.String()}
	rec, err := c.mesh.GetCapacity(ctx, p)
	if err != nil {
		return res, err
	}
	res.ClaimedMBps = rec.Score.HashMBps
	if res.ClaimedMBps <= 0 {
		res.Reason = "its record claims no score"
		return res, nil
	}
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	rtt := c.mesh.RTT(p)
	s, err := c.mesh.Host().NewStream(ctx, p, c.mesh.Protocol(job.ProtocolChallenge))
	if err != nil {
		return res, fmt.Errorf("challenging %s: %w", p, err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if err := mesh.WriteMsg(s, job.ChallengeRequest{Seed: seed}); err != nil {
		return res, fmt.Errorf("challenging %s: %w", p, err)
	}
	var resp job.ChallengeResponse
	if err := mesh.ReadMsg(bufio.NewReader(s), 1024, &resp); err != nil {
		return res, fmt.Errorf("challenging %s: %w", p, err)
	}
	// The round trip's network part is the peer's measured RTT, but never
	// more than half the whole: an RTT estimate inflated on a loaded
	// machine must not make a slow answer look instant.
	elapsed := time.Since(start)
	res.Measured = elapsed - min(rtt, elapsed/2)
	if resp.Error != "" {
		return res, fmt.Errorf("challenging %s: %s", p, resp.Error)
	}
	var answer [32]byte
	copy(answer[:], resp.Answer)
	// Checking the answer costs this node the same chain: its own time,
	// scaled by its own score against the claimed one, is what the claim
	// promises (so per-hash overheads, instrumented builds and the like
	// count on both sides).
	verifyStart := time.Now()
	correct := len(resp.Answer) == 32 && hwprobe.VerifyChallenge(seed, answer)
	own := time.Since(verifyStart)
	res.Expected = time.Duration(float64(own) * c.ownScore() / res.ClaimedMBps)
	switch {
	case !correct:
		res.Reason = "wrong answer"
	case res.Measured > challengeSlack*res.Expected:
		res.Reason = fmt.Sprintf("answered in %v, its claimed score (%.0f MB/s) promises %v: over %dx slower than claimed",
			res.Measured.Round(time.Millisecond), res.ClaimedMBps, res.Expected.Round(time.Microsecond), challengeSlack)
	default:
		res.Passed = true
		res.Reason = fmt.Sprintf("answered correctly in %v (claimed score promises %v)", res.Measured.Round(time.Millisecond), res.Expected.Round(time.Millisecond))
	}
	if !res.Passed {
		c.log.Warnw("provider failed a benchmark challenge", "provider", p, "reason", res.Reason)
		c.reps.update(p.String(), func(r *api.Reputation) { r.ChallengeFails++ })
	} else {
		c.reps.update(p.String(), func(r *api.Reputation) { r.ChallengePass++ })
	}
	return res, nil
}
