package node

import (
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are a node's Prometheus metrics, in a registry of its own (many
// nodes may share a process). docs/METRICS.md lists every one of them
// (TestMetricsDocumented keeps it so).
type metrics struct {
	reg      *registry
	jobs     *prometheus.CounterVec // client: jobs by final state
	answers  *prometheus.CounterVec // provider: bids and declines by reason
	runs     *prometheus.CounterVec // provider: awarded runs by result
	earned   prometheus.Counter
	spent    prometheus.Counter
	duration prometheus.Histogram // client: submit to result
	auction  prometheus.Histogram // client: one auction round
	// ledger: records refused (bad signature, wrong network, ...) and
	// attempts settled without a receipt.
	ledgerRejected prometheus.Counter
	unreceipted    prometheus.Counter
	claims         prometheus.Counter
}

// metricsNamespace prefixes the node's own metrics.
const metricsNamespace = "computemesh"

func newMetrics(n *Node) *metrics {
	m := &metrics{
		reg: newRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "client_jobs_total", Help: "Jobs submitted by this node, by final state.",
		}, []string{"state"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "provider_answers_total", Help: "Answers to job requests: bid, or the decline reason.",
		}, []string{"answer"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "provider_runs_total", Help: "Awarded jobs run by this provider, by result.",
		}, []string{"result"}),
		earned: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "earned_nanocredits_total", Help: "Nano-credits earned running jobs.",
		}),
		spent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "spent_nanocredits_total", Help: "Nano-credits paid for jobs.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "client_job_seconds",
			Help:    "Jobs submitted by this node, from submission to their final state (any state), seconds.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}),
		auction: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "client_auction_seconds",
			Help:    "Auction rounds this node ran as a client, from the request's gossip to the choice of a winner (candidate discovery excluded), seconds.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	m.ledgerRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "ledger_rejected_total", Help: "Gossiped ledger records refused (signatures, network, conflicts).",
	})
	m.claims = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "claims_total", Help: "Runs this provider claimed on the client's authorisation (no receipt came).",
	})
	m.unreceipted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "unreceipted_runs_total", Help: "Attempts that ended without a signed receipt.",
	})
	// The runtime's and the process's own (go_*, process_*), with the live
	// heap as of the last GC (go_gc_heap_live_bytes): what a node keeps,
	// where RSS also holds the collector's headroom.
	m.reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.jobs, m.answers, m.runs, m.earned, m.spent, m.duration, m.auction, m.ledgerRejected, m.unreceipted, m.claims)
	m.reg.MustRegister(meshGauges(n)...)
	if n.cfg.Mode == ModeProvider {
		m.reg.MustRegister(providerGauges(n)...)
	}
	return m
}

// handler serves the metrics on the local API (behind its token).
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// listenerHandler serves the metrics on the metrics listener, which may
// face a network: a few scrapes at once, each bounded in time.
func (m *metrics) listenerHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4, Timeout: 30 * time.Second})
}
