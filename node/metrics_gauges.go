package node

import (
	"fmt"
	"slices"

	"github.com/computemesh/computemesh/mesh"
	"github.com/prometheus/client_golang/prometheus"
)

// meshGauges are the metrics every node reads off its mesh and its ledger
// when scraped.
func meshGauges(n *Node) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Name: "peers", Help: "Connected peers.",
		}, func() float64 { return float64(len(n.mesh.Host().Network().Peers())) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "gossip_dropped_total", Help: "Gossip messages refused by the topic validators.",
		}, func() float64 { return float64(n.mesh.Drops().Total()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "gossip_over_rate_total", Help: "Job requests ignored for being over their author's rate.",
		}, func() float64 { return float64(n.mesh.Drops().OverRate.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "gossip_unfunded_total", Help: "Job requests relayed from authors whose balance pays for nothing, ignored (networks with credits).",
		}, func() float64 { return float64(n.mesh.Drops().Unfunded.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Name: "ledger_balance_nanocredits",
			Help: "This node's spendable balance in its ledger (granted + earned - spent), nano-credits.",
		}, func() float64 {
			if n.book == nil {
				return 0
			}
			return float64(n.book.Balance(n.ID().String()).Balance)
		}),
		newScoreCollector(n),
	}
}

// providerGauges are a provider's jobs and capacity, read when scraped.
func providerGauges(n *Node) []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: name, Help: help}, func() float64 {
			if n.provider == nil || n.provider.Reservations() == nil {
				return 0
			}
			return f()
		})
	}
	free := func() (cpu, mem, gpus float64) {
		f := n.provider.Reservations().Free()
		return float64(f.CPUMillis) / 1000, float64(f.MemoryBytes), float64(f.GPUs)
	}
	total := func() (cpu, mem, gpus float64) {
		t := n.provider.Capacity().Total
		return float64(t.CPUMillis) / 1000, float64(t.MemoryBytes), float64(t.GPUs)
	}
	return []prometheus.Collector{
		gauge("standing_bids", "Bids this provider keeps (losers until their window and grace end, held backups until their job's timeout).",
			func() float64 { t, _ := n.provider.StandingBids(); return float64(t) }),
		gauge("provider_jobs_running", "Jobs holding a reservation of this provider's capacity (running, or about to).",
			func() float64 { return float64(n.provider.Reservations().Running()) }),
		gauge("provider_jobs_queued", "Awarded jobs waiting in this provider's queue for capacity (--queue).",
			func() float64 { return float64(n.provider.Reservations().Queued()) }),
		gauge("provider_draining", "1 while this provider drains (takes no new jobs), else 0.",
			func() float64 { return b2f(n.provider.Draining()) }),
		gauge("provider_free_cpu_cores", "CPU this provider has not reserved to jobs, cores.",
			func() float64 { c, _, _ := free(); return c }),
		gauge("provider_free_memory_bytes", "Memory this provider has not reserved to jobs, bytes.",
			func() float64 { _, m, _ := free(); return m }),
		gauge("provider_free_gpus", "GPUs this provider has not reserved to jobs.",
			func() float64 { _, _, g := free(); return g }),
		gauge("provider_capacity_cpu_cores", "CPU this provider offers at once (its record's total), cores.",
			func() float64 { c, _, _ := total(); return c }),
		gauge("provider_capacity_memory_bytes", "Memory this provider offers at once (its record's total), bytes.",
			func() float64 { _, m, _ := total(); return m }),
		gauge("provider_capacity_gpus", "GPUs this provider offers (its record's total).",
			func() float64 { _, _, g := total(); return g }),
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// scoreCollector summarises the GossipSub scores of the peers this node
// scores (mesh.PeerScores, refreshed every 10 s): their minimum, median
// and maximum as a summary's quantiles 0, 0.5 and 1, and how many are
// below each of the score thresholds. Never a series per peer: a node
// may score hundreds of peers, changing all the time.
type scoreCollector struct {
	n     *Node
	score *prometheus.Desc
	below *prometheus.Desc
}

func newScoreCollector(n *Node) *scoreCollector {
	return &scoreCollector{
		n: n,
		score: prometheus.NewDesc(metricsNamespace+"_gossip_peer_score",
			"GossipSub scores of the peers this node scores: quantile 0 is the lowest, 0.5 the median, 1 the highest; _count is how many peers are scored.",
			nil, nil),
		below: prometheus.NewDesc(metricsNamespace+"_gossip_peers_below_threshold",
			fmt.Sprintf("Scored peers whose GossipSub score is below a threshold: gossip (%g: no gossip to them), publish (%g: none of this node's messages), graylist (%g: all they send is dropped).",
				mesh.GossipThreshold, mesh.PublishThreshold, mesh.GraylistThreshold),
			[]string{"threshold"}, nil),
	}
}

func (c *scoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.score
	ch <- c.below
}

func (c *scoreCollector) Collect(ch chan<- prometheus.Metric) {
	scores := make([]float64, 0, 16)
	for _, s := range c.n.mesh.PeerScores() {
		scores = append(scores, s)
	}
	slices.Sort(scores)
	sum := 0.0
	for _, s := range scores {
		sum += s
	}
	quantiles := map[float64]float64{}
	if k := len(scores); k > 0 {
		median := scores[k/2]
		if k%2 == 0 {
			median = (scores[k/2-1] + scores[k/2]) / 2
		}
		quantiles = map[float64]float64{0: scores[0], 0.5: median, 1: scores[k-1]}
	}
	ch <- prometheus.MustNewConstSummary(c.score, uint64(len(scores)), sum, quantiles)
	for _, t := range []struct {
		name  string
		value float64
	}{{"gossip", mesh.GossipThreshold}, {"publish", mesh.PublishThreshold}, {"graylist", mesh.GraylistThreshold}} {
		below := 0
		for _, s := range scores {
			if s < t.value {
				below++
			}
		}
		ch <- prometheus.MustNewConstMetric(c.below, prometheus.GaugeValue, float64(below), t.name)
	}
}
