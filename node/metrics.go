package node

import (
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are a node's Prometheus metrics, in a registry of its own (many
// nodes may share a process).
type metrics struct {
	reg      *prometheus.Registry
	jobs     *prometheus.CounterVec // client: jobs by final state
	answers  *prometheus.CounterVec // provider: bids and declines by reason
	runs     *prometheus.CounterVec // provider: awarded runs by result
	earned   prometheus.Counter
	spent    prometheus.Counter
	duration prometheus.Histogram
	// ledger: records refused (bad signature, wrong network, ...) and
	// attempts settled without a receipt.
	ledgerRejected prometheus.Counter
	unreceipted    prometheus.Counter
	claims         prometheus.Counter
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "client_jobs_total", Help: "Jobs submitted by this node, by final state.",
		}, []string{"state"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "provider_answers_total", Help: "Answers to job requests: bid, or the decline reason.",
		}, []string{"answer"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "provider_runs_total", Help: "Awarded jobs run by this provider, by result.",
		}, []string{"result"}),
		earned: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "earned_nanocredits_total", Help: "Nano-credits earned running jobs.",
		}),
		spent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "spent_nanocredits_total", Help: "Nano-credits paid for jobs.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "computemesh", Name: "client_job_seconds", Help: "Submit to result, seconds.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}),
	}
	m.ledgerRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "computemesh", Name: "ledger_rejected_total", Help: "Gossiped ledger records refused (signatures, network, conflicts).",
	})
	m.claims = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "computemesh", Name: "claims_total", Help: "Runs this provider claimed on the client's authorisation (no receipt came).",
	})
	m.unreceipted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "computemesh", Name: "unreceipted_runs_total", Help: "Attempts that ended without a signed receipt.",
	})
	// The runtime's and the process's own (go_*, process_*), with the live
	// heap as of the last GC (go_gc_heap_live_bytes): what a node keeps,
	// where RSS also holds the collector's headroom.
	m.reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.jobs, m.answers, m.runs, m.earned, m.spent, m.duration, m.ledgerRejected, m.unreceipted, m.claims,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "computemesh", Name: "peers", Help: "Connected peers.",
		}, func() float64 { return float64(len(n.mesh.Host().Network().Peers())) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "gossip_dropped_total", Help: "Gossip messages refused by the topic validators.",
		}, func() float64 { return float64(n.mesh.Drops().Total()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "gossip_over_rate_total", Help: "Job requests ignored for being over their author's rate.",
		}, func() float64 { return float64(n.mesh.Drops().OverRate.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "computemesh", Name: "gossip_unfunded_total", Help: "Job requests relayed from authors whose balance pays for nothing, ignored (networks with credits).",
		}, func() float64 { return float64(n.mesh.Drops().Unfunded.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "computemesh", Name: "standing_bids", Help: "Bids this provider keeps (losers until their window and grace end, held backups until their job's timeout).",
		}, func() float64 { t, _ := n.StandingBids(); return float64(t) }),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
