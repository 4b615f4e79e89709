package sim

import (
	"cmp"
	"slices"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/scheduler"
)

// The schedulers compared.
const (
	// Computemesh is computemesh's auction: gossip the request, collect
	// bids until all candidates answered or the window closes, evaluate
	// them under the job's policy, award with failover down the ranking.
	Computemesh = "computemesh"
	// Random awards a provider chosen at random among those whose
	// capacity record can serve the job.
	Random = "random"
	// PowerOfTwo probes two random such providers and awards the less
	// loaded one.
	PowerOfTwo = "p2c"
	// Omniscient is a centralised scheduler that knows every queue and
	// every job's real run time at once, and places each job where the
	// job's own policy scores best.
	Omniscient = "omniscient"
	// OmniscientFastest is the omniscient scheduler placing every job for
	// its earliest result, whatever its policy: the least mean completion
	// time a greedy placement reaches, shown beside the others (it
	// optimises another objective than the jobs ask, so it is not the
	// reference).
	OmniscientFastest = "omniscient-fastest"
)

// Schedulers lists the schedulers compared, the reference (omniscient)
// last.
func Schedulers() []string {
	return []string{Computemesh, Random, PowerOfTwo, OmniscientFastest, Omniscient}
}

// auction is one round of computemesh's scheduling of job j.
func (w *world) auction(j *Job) {
	if !w.clients.begin(j, w.cfg.MaxAuctions) {
		return // held back until one of its client's auctions ends
	}
	w.out[j.Index].rounds++
	start := w.loop.Now()
	cands := w.cands[j.Index]
	ids := make([]string, len(cands))
	for i, p := range cands {
		ids[i] = w.mesh.Providers[p].ID
	}
	client := w.mesh.Clients[j.Client].ID
	// A round that heard no answer in time doubles the window for the
	// next (the default window is shorter than some RTTs between
	// continents).
	window := w.cfg.Window << min(w.out[j.Index].rounds-1, 4)
	req := request(j, client, start+window)
	a := scheduler.NewAuction(j.ID, ids)
	answeredAt := make(map[string]time.Duration, len(cands))
	closed := false
	closeWindow := func() {
		if !closed {
			closed = true
			w.decide(j, a.Close(), answeredAt)
			if next := w.clients.end(j.Client, w.cfg.MaxAuctions); next != nil {
				w.auction(next)
			}
		}
	}
	for _, p := range cands {
		ow := w.oneWay(j, p)
		w.loop.After(ow, func() {
			at := w.loop.Now()
			b := w.provs[p].answer(req, at)
			if j.Data > 0 && j.Holders[p] && !w.cfg.DataBlind && b.Decline == "" {
				b.Held = j.Data // the bid says what the provider holds of the job's input
			}
			w.loop.After(ow, func() {
				if a.Offer(b) {
					answeredAt[b.Provider] = at
				}
				select {
				case <-a.Done():
					closeWindow()
				default:
				}
			})
		})
	}
	w.loop.After(window, closeWindow)
}

// decide evaluates an auction's answers with the real pipeline (checks,
// the job's deadline, policy ranking with its soft wait bound) and awards
// the winner, then the backups in order. A bid's wait counts the client's
// own backlog there, as the real client's does.
func (w *world) decide(j *Job, answers []job.Bid, answeredAt map[string]time.Duration) {
	s := &j.Spec
	now := w.loop.Now()
	record := func(provider string) *job.Capacity {
		if p, ok := w.byID[provider]; ok {
			return &w.mesh.Providers[p].Record
		}
		return nil
	}
	runOf := func(p int) time.Duration { return scheduler.RunEstimate(s, w.mesh.Providers[p].Record.Score) }
	waits := map[string]time.Duration{}
	waitOf := func(b *job.Bid) time.Duration {
		if d, ok := waits[b.Provider]; ok {
			return d
		}
		p := w.byID[b.Provider]
		arrived := answeredAt[b.Provider] + w.oneWay(j, p)
		waits[b.Provider] = w.clients.backlog(j, p, arrived, &w.mesh.Providers[p].Record, runOf(p)).Wait(b)
		return waits[b.Provider]
	}
	var deadline time.Time
	if j.Deadline > 0 {
		deadline = wall(j.Deadline)
	}
	checks := append(scheduler.Checks(j.ID, s, wall(now)), scheduler.Fits(s.Resources.Need(), record),
		scheduler.CarbonFollows(record, wall(now), s.CarbonRun()), scheduler.MaxCarbon(s), scheduler.MeetsDeadline(deadline, wall(now), waitOf))
	transfer := scheduler.Transfers(scheduler.Feasible(answers, checks), nil) // the default rate, as a client that measured nothing
	est := func(b *job.Bid) scheduler.Option {
		p := w.byID[b.Provider]
		return scheduler.Option{RTT: w.rtt(j, p), Wait: waitOf(b), Run: runOf(p), Transfer: transfer(b)}
	}
	policy := scheduler.PolicyOf(s)
	policy.MaxWait = j.MaxWait
	ranked := scheduler.Evaluate(answers, checks, policy, est).Ranked
	var next func(i int)
	next = func(i int) {
		if i >= len(ranked) {
			w.retry(j, w.auction)
			return
		}
		o := &ranked[i]
		p := w.byID[o.Bid.Provider]
		// The provider holds the award if the job starts no later than its
		// bid said, give or take the slack.
		promise := answeredAt[o.Bid.Provider] + o.Wait + w.cfg.Slack + o.Wait/4
		end := w.clients.award(j, p, w.loop.Now())
		w.award(j, p, promise, scheduler.Pay(s.Auction, ranked, i), func() { end(); next(i + 1) })
	}
	next(0)
}

// untried returns the candidates of j not in tried.
func (w *world) untried(j *Job, tried map[int]bool) []int {
	var out []int
	for _, p := range w.cands[j.Index] {
		if !tried[p] {
			out = append(out, p)
		}
	}
	return out
}

func (w *world) priceAt(j *Job, p int) job.Credits {
	price, _ := market.Price(w.mesh.Providers[p].Offer.Rates, j.Spec.Resources, j.Spec.Timeout())
	return price
}

// random awards a random untried candidate; a decline moves on to another.
func (w *world) random(j *Job, tried map[int]bool) {
	left := w.untried(j, tried)
	if len(left) == 0 {
		w.out[j.Index].rounds++
		w.retry(j, func(j *Job) { w.random(j, map[int]bool{}) })
		return
	}
	if len(tried) == 0 {
		w.out[j.Index].rounds++
	}
	p := left[w.rng.IntN(len(left))]
	tried[p] = true
	w.award(j, p, 0, w.priceAt(j, p), func() { w.random(j, tried) })
}

// twoChoices probes two random untried candidates for their load (each
// answers as of when the probe reaches it) and awards the less loaded one.
func (w *world) twoChoices(j *Job, tried map[int]bool) {
	left := w.untried(j, tried)
	if len(left) == 0 {
		w.out[j.Index].rounds++
		w.retry(j, func(j *Job) { w.twoChoices(j, map[int]bool{}) })
		return
	}
	if len(tried) == 0 {
		w.out[j.Index].rounds++
	}
	a := left[w.rng.IntN(len(left))]
	b := a
	if len(left) > 1 {
		for b == a {
			b = left[w.rng.IntN(len(left))]
		}
	}
	gpu := j.Spec.Resources.GPUs > 0
	probes := []int{a, b}
	if a == b {
		probes = probes[:1]
	}
	loads := map[int]float64{}
	answers := 0
	for _, p := range probes {
		w.loop.After(w.oneWay(j, p), func() {
			l := w.provs[p].load(gpu)
			w.loop.After(w.oneWay(j, p), func() {
				loads[p] = l
				if answers++; answers < len(probes) {
					return
				}
				pick := a
				if c := cmp.Compare(loads[b], loads[a]); c < 0 || c == 0 && w.rtt(j, b) < w.rtt(j, a) {
					pick = b
				}
				tried[a], tried[b] = true, true
				w.award(j, pick, 0, w.priceAt(j, pick), func() { w.twoChoices(j, tried) })
			})
		})
	}
}

// omniscient places job j at once where its policy scores best, knowing
// each provider's exact queue and each job's real run time, among the
// providers whose queue has room; it places the job in that queue at
// once (the slot is held while the job travels there). When every queue
// is full it holds the job centrally and places it the moment a slot
// frees up at one of its candidates (see unpark).
func (w *world) omniscient(j *Job) { w.placeOrPark(j, scheduler.PolicyOf(&j.Spec)) }

// fastest places job j at once where its result comes soonest.
func (w *world) fastest(j *Job) { w.placeOrPark(j, scheduler.Policy{Name: job.PolicyLatency}) }

// parked is a job the omniscient scheduler holds until a slot frees up.
type parked struct {
	job    *Job
	policy scheduler.Policy
}

func (w *world) placeOrPark(j *Job, policy scheduler.Policy) {
	if !w.place(j, policy) {
		w.parked = append(w.parked, parked{j, policy})
	}
}

// unpark is called when provider p has finished a job: the held jobs that
// p could serve are placed again, oldest first, while p's queue has room.
func (w *world) unpark(p int) {
	kept := w.parked[:0]
	for i, h := range w.parked {
		if !w.provs[p].hasRoom(h.job.Spec.Resources) {
			kept = append(kept, w.parked[i:]...)
			break
		}
		if _, ok := slices.BinarySearch(w.cands[h.job.Index], p); !ok || !w.place(h.job, h.policy) {
			kept = append(kept, h)
		}
	}
	clear(w.parked[len(kept):])
	w.parked = kept
}

// place is the omniscient scheduler under a policy: it reports false when
// no candidate's queue has room.
func (w *world) place(j *Job, policy scheduler.Policy) bool {
	w.out[j.Index].rounds++
	now := w.loop.Now()
	s := &j.Spec
	req := request(j, w.mesh.Clients[j.Client].ID, now)
	var bids []job.Bid
	starts := map[string]time.Duration{}
	for _, p := range w.cands[j.Index] {
		st := w.provs[p]
		if !st.hasRoom(s.Resources) {
			continue
		}
		b := scheduler.Admit(&st.p.Offer, req, st.p.Offer.Capacity, 0)
		b.Provider = st.p.ID
		starts[b.Provider] = st.startTime(now, s.Resources, true)
		bids = append(bids, b)
	}
	est := func(b *job.Bid) scheduler.Option {
		p := w.byID[b.Provider]
		return scheduler.Option{RTT: w.rtt(j, p), Wait: starts[b.Provider] - now, Run: w.mesh.RunTime(j, p)}
	}
	ranked := scheduler.Evaluate(bids, scheduler.Checks(j.ID, s, wall(now)), policy, est).Ranked
	if len(ranked) == 0 {
		return false
	}
	p := w.byID[ranked[0].Bid.Provider]
	w.out[j.Index].awards++
	return w.provs[p].accept(&w.loop, w.newTask(j, p, w.oneWay(j, p), ranked[0].Bid.Price), 0)
}
