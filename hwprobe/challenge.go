package hwprobe

import (
	"crypto/sha256"
	"time"
)

// ChallengeIterations is the length of the SHA-256 chain a Challenge
// computes: about 0.1 s on a core with SHA extensions (some 80 ns a link),
// 0.2 to 0.4 s without. Changing it changes every answer.
const ChallengeIterations = 1 << 20

// challengeDomain separates challenge hashes from any other use of SHA-256.
const challengeDomain = "computemesh/hwprobe/challenge/v1\x00"

// Challenge does a fixed amount of sequential work determined by seed and
// returns its answer and how long it took here. The work is a chain:
//
//	x₀ = SHA-256("computemesh/hwprobe/challenge/v1\x00" ‖ seed)
//	xᵢ₊₁ = SHA-256(xᵢ)   (32 bytes in, 32 out)
//	answer = x_N, N = ChallengeIterations
//
// Every link needs the one before, so the work cannot be spread over cores
// or done ahead of knowing the seed. Anyone can check an answer by doing the
// same work (VerifyChallenge); a verifier that wants a provider's speed
// compares the provider's reported time, or its own round-trip time, with
// the elapsed time it measures itself. Seeds should be fresh random bytes
// (16 or more) chosen by the verifier.
func Challenge(seed []byte) (answer [32]byte, elapsed time.Duration) {
	start := time.Now()
	answer = challengeChain(seed, ChallengeIterations)
	return answer, time.Since(start)
}

// VerifyChallenge reports whether answer is Challenge's answer for seed. It
// costs as much as Challenge.
func VerifyChallenge(seed []byte, answer [32]byte) bool {
	return challengeChain(seed, ChallengeIterations) == answer
}

func challengeChain(seed []byte, iterations int) [32]byte {
	h := sha256.New()
	h.Write([]byte(challengeDomain))
	h.Write(seed)
	var x [32]byte
	h.Sum(x[:0])
	for range iterations {
		x = sha256.Sum256(x[:])
	}
	return x
}
