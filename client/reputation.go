package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
)

// score is the share of good outcomes in a provider's record, with one
// good and one bad outcome assumed before any is seen (a newcomer starts at
// 0.5 and moves with evidence). Failures weigh 2, mismatches and failed
// challenges 3, timeouts 1/2 (the job may simply be slow); each signed
// receipt of the provider in the ledger (paid runs for anyone) counts a
// quarter of a completed run.
func score(r *api.Reputation) float64 {
	good := float64(r.Completed+r.ChallengePass) + 0.25*float64(r.Receipts) + 1
	bad := 2*float64(r.Failed) + 0.5*float64(r.TimedOut) + 3*float64(r.Mismatches+r.ChallengeFails) + 1
	return good / (good + bad)
}

// reputation is a provider's record as this node keeps it: with the count
// of starts its mean start time averages.
type reputation struct {
	api.Reputation
	starts int
}

// reputationFile keeps a node's reputations across restarts.
const reputationFile = "reputation.json"

// maxReputations bounds what a node remembers (the least recently seen
// are forgotten first).
const maxReputations = 10_000

type reputations struct {
	mu   sync.Mutex
	m    map[string]*reputation
	seen map[string]time.Time
	path string // "" for an ephemeral node
}

func newReputations(dataDir string, log Logger) *reputations {
	r := &reputations{m: map[string]*reputation{}, seen: map[string]time.Time{}}
	if dataDir == "" {
		return r
	}
	r.path = filepath.Join(dataDir, reputationFile)
	b, err := os.ReadFile(r.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warnw("reading the reputations: starting without them", "path", r.path, "err", err)
		}
		return r
	}
	var list []*api.Reputation
	if err := json.Unmarshal(b, &list); err != nil {
		log.Warnw("not a list of reputations: starting without them", "path", r.path, "err", err)
		return r
	}
	now := time.Now()
	for _, rep := range list {
		if rep != nil && rep.Provider != "" {
			starts := rep.Completed + rep.Failed + rep.TimedOut
			r.m[rep.Provider], r.seen[rep.Provider] = &reputation{Reputation: *rep, starts: starts}, now
		}
	}
	return r
}

// update applies f to a provider's record.
func (r *reputations) update(provider string, f func(*api.Reputation)) {
	r.change(provider, func(rep *reputation) { f(&rep.Reputation) })
}

// change applies f to a provider's record as the node keeps it.
func (r *reputations) change(provider string, f func(*reputation)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.m[provider]
	if rep == nil {
		if len(r.m) >= maxReputations {
			oldest, at := "", time.Now()
			for p, t := range r.seen {
				if t.Before(at) {
					oldest, at = p, t
				}
			}
			delete(r.m, oldest)
			delete(r.seen, oldest)
		}
		rep = &reputation{Reputation: api.Reputation{Provider: provider}}
		r.m[provider] = rep
	}
	r.seen[provider] = time.Now()
	f(rep)
	rep.Score = score(&rep.Reputation)
}

// started records how long a provider took from award to running.
func (r *reputations) started(provider string, d time.Duration) {
	r.change(provider, func(rep *reputation) {
		rep.starts++
		rep.MeanStartMS += (ms(d) - rep.MeanStartMS) / float64(rep.starts)
	})
}

// Score returns a provider's score and whether this node has any history
// of it.
func (r *reputations) Score(provider string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.m[provider]
	if rep == nil {
		return 0, false
	}
	return rep.Score, true
}

// get returns a copy of a provider's record and whether there is one.
func (r *reputations) get(provider string) (api.Reputation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep := r.m[provider]; rep != nil {
		return rep.Reputation, true
	}
	return api.Reputation{Provider: provider}, false
}

// list returns every reputation, best first.
func (r *reputations) list() []api.Reputation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.Reputation, 0, len(r.m))
	for _, rep := range r.m {
		out = append(out, rep.Reputation)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Provider < out[j].Provider
	})
	return out
}

// save writes the reputations (temporary file, fsync, rename).
func (r *reputations) save() error {
	if r == nil || r.path == "" {
		return nil
	}
	b, err := json.Marshal(r.list())
	if err != nil {
		return err
	}
	if err := writeAtomic(r.path, b); err != nil {
		return fmt.Errorf("saving reputations: %w", err)
	}
	return nil
}

// Reputations returns what this node has seen of each provider, with the
// receipts its ledger holds for each, best first.
func (c *Client) Reputations() []api.Reputation {
	list := c.reps.list()
	for i := range list {
		_, list[i].Receipts = c.credits.Ledger().Counts(list[i].Provider)
		list[i].Score = score(&list[i])
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Score > list[j].Score })
	return list
}

// reputation is a provider's score from this node's history and the
// receipts in its ledger, and whether there is any evidence at all.
func (c *Client) reputation(provider string) (float64, bool) {
	rep, seen := c.reps.get(provider)
	_, rep.Receipts = c.credits.Ledger().Counts(provider)
	if !seen && rep.Receipts == 0 {
		return 0, false
	}
	return score(&rep), true
}
