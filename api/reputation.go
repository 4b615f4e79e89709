package api

// Reputation is what a node has seen of one provider as a client (GET
// /v1/reputation): how its awards ended, whether its outputs agreed with
// its replicas' majority, how it did in hardware challenges, and how long
// it took to start jobs. It is the node's own history, not a claim anyone
// made, with the signed receipts of the provider its ledger holds.
type Reputation struct {
	Provider       string  `json:"provider"`
	Completed      int     `json:"completed"`       // ran and returned a result
	Failed         int     `json:"failed"`          // died, fell silent or could not run it after accepting
	TimedOut       int     `json:"timed_out"`       // ran past the job's timeout
	Mismatches     int     `json:"mismatches"`      // in a replicated job's minority
	ChallengeFails int     `json:"challenge_fails"` // failed a hardware challenge
	ChallengePass  int     `json:"challenge_passes"`
	MeanStartMS    float64 `json:"mean_start_ms"` // award → running
	// Receipts are the signed receipts of this provider in the node's
	// ledger (its paid runs for anyone, as gossiped).
	Receipts int     `json:"receipts"`
	Score    float64 `json:"score"` // 0 to 1: the share of good outcomes, as the node weighs them
}
