package sim

import (
	"math/rand/v2"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/scheduler"
)

// wall is the wall-clock time that virtual time d stands for (bids carry
// expiry times in unix ms, and scheduler.Checks compares them with now).
func wall(d time.Duration) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(d) }

func epochMS(d time.Duration) int64 { return wall(d).UnixMilli() }

// outcome is what became of one job under one scheduler.
type outcome struct {
	done     bool
	failed   bool
	provider int
	cost     job.Credits
	rtt      time.Duration // client to the provider that ran it
	result   time.Duration // when the result reached the client
	wait     time.Duration // from arriving at the provider to starting
	started  time.Duration // when it started running
	run      time.Duration
	awards   int // awards sent (a declined award counts)
	rounds   int // auctions (or placement rounds) it took
	// emissions of its run: its energy over the real run time at the
	// intensity its provider's record declares for it (green.go);
	// deferred how long it waited for a greener hour before its first
	// round (Config.Defer).
	emissions job.Carbon
	deferred  time.Duration
}

// world is one run: one scheduler over one job stream on a fresh mesh.
type world struct {
	loop  Loop
	mesh  *Mesh
	cfg   *Config
	provs []*provState
	byID  map[string]int
	jobs  []Job
	cands [][]int
	out   []outcome
	rng   *rand.Rand
	// parked are the jobs the omniscient scheduler holds, oldest first.
	parked []parked
	// What each computemesh client knows of its own (clients.go): its
	// unfinished awards, its auctions in flight and those held back.
	clients clientState
}

func newWorld(m *Mesh, cfg *Config, jobs []Job, seed uint64) *world {
	w := &world{mesh: m, cfg: cfg, jobs: jobs, byID: map[string]int{}, out: make([]outcome, len(jobs)),
		cands: make([][]int, len(jobs)), rng: rand.New(rand.NewPCG(seed, 0x73636864))}
	for i := range m.Providers {
		w.provs = append(w.provs, newProvState(&m.Providers[i], i, cfg.MaxQueue))
		w.byID[m.Providers[i].ID] = i
	}
	for i := range jobs {
		w.cands[i] = m.Candidates(&jobs[i].Spec)
	}
	return w
}

func (w *world) city(j *Job) int { return w.mesh.Clients[j.Client].City }

func (w *world) rtt(j *Job, p int) time.Duration {
	return w.mesh.Topo.RTT(w.city(j), w.mesh.Providers[p].City)
}

func (w *world) oneWay(j *Job, p int) time.Duration { return w.rtt(j, p) / 2 }

// request is the gossiped form of a job (without the CIDs, which nothing
// in the simulation reads).
func request(j *Job, client string, bidBy time.Duration) *job.Request {
	s := &j.Spec
	r := &job.Request{V: job.Version, Job: j.ID, Client: client, Executor: s.Executor, Module: s.Module, Image: s.Image,
		Resources: s.Resources, TimeoutMS: s.TimeoutMS, MaxPrice: s.MaxPrice, Region: s.Region, NotRegions: s.NotRegions,
		BidByMS: epochMS(bidBy)}
	if s.WeighsCarbon() {
		r.ExpectedMS = s.ExpectedMS
	}
	return r
}

// newTask is job j's task on provider p; hold is added to its run (the
// omniscient scheduler holds the slot while the job travels).
func (w *world) newTask(j *Job, p int, hold time.Duration, pay job.Credits) *task {
	run := w.mesh.RunTime(j, p)
	if j.Data > 0 && !j.Holders[p] && w.cfg.DataBandwidth > 0 { // it fetches the input first
		run += time.Duration(float64(j.Data) / float64(w.cfg.DataBandwidth) * float64(time.Second))
	}
	prov := &w.mesh.Providers[p]
	price, _ := market.Price(prov.Offer.Rates, j.Spec.Resources, j.Spec.Timeout())
	t := &task{job: j, res: j.Spec.Resources, run: run + hold, est: scheduler.RunEstimate(&j.Spec, prov.Record.Score) + hold}
	arrived := w.loop.Now() + hold
	t.done = func(finish time.Duration) {
		o := &w.out[j.Index]
		o.done, o.provider, o.rtt, o.run = true, p, w.rtt(j, p), run
		o.wait = t.start - (arrived - hold) // the hold is not waiting
		o.started = t.start + hold
		if o.wait < 0 {
			o.wait = 0
		}
		charge, _ := market.Charge(prov.Offer.Rates, j.Spec.Resources, j.Spec.Timeout(), run)
		if price > 0 && pay != price {
			charge = job.Credits(float64(charge) * float64(pay) / float64(price))
		}
		o.cost = charge
		o.emissions = job.Emissions(job.Energy(j.Spec.Resources, run), prov.Record.IntensityOver(wall(o.started), run))
		o.result = finish + w.oneWay(j, p)
		w.clients.resulted(&w.loop, j, w.oneWay(j, p))
	}
	return t
}

// award sends job j's award to provider p: it arrives a one-way latency
// later; if the provider declines, the decline takes as long back and
// declined runs then.
func (w *world) award(j *Job, p int, promise time.Duration, pay job.Credits, declined func()) {
	w.out[j.Index].awards++
	ow := w.oneWay(j, p)
	w.loop.After(ow, func() {
		if !w.provs[p].accept(&w.loop, w.newTask(j, p, 0, pay), promise) {
			w.loop.After(ow, declined)
		}
	})
}

// maxRounds is how many rounds a client tries before giving a job up.
const maxRounds = 1000

// retry starts another round after the back-off, which doubles each round
// up to 8 times Config.Backoff. A job that no round placed in maxRounds,
// or whose deadline comes before the next round would, is given up (and
// counted as failed: unscheduled).
func (w *world) retry(j *Job, round func(*Job)) {
	n := w.out[j.Index].rounds
	backoff := w.cfg.Backoff << min(n-1, 3)
	if n >= maxRounds || j.Deadline > 0 && w.loop.Now()+backoff > j.Deadline {
		w.out[j.Index].failed = true
		return
	}
	w.loop.After(backoff, func() { round(j) })
}

// run submits every job at its time under the scheduler and runs the loop
// until every result is in.
func (w *world) run(kind string) {
	var round func(*Job)
	switch kind {
	case Computemesh:
		round = w.auction
	case Random:
		round = func(j *Job) { w.random(j, map[int]bool{}) }
	case PowerOfTwo:
		round = func(j *Job) { w.twoChoices(j, map[int]bool{}) }
	case Omniscient:
		round = w.omniscient
	case OmniscientFastest:
		round = w.fastest
	}
	if kind == Omniscient || kind == OmniscientFastest {
		for _, s := range w.provs {
			s.freed = w.unpark
		}
	}
	for i := range w.jobs {
		j := &w.jobs[i]
		w.loop.At(j.At, func() { w.submit(j, round) })
	}
	w.loop.Run(0)
}
