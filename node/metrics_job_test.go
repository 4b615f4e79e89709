package node

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// metricValue returns the value of n's metric name whose labels include
// labels (a counter's or gauge's value, a histogram's or summary's count),
// and whether there is one.
func metricValue(t *testing.T, n *Node, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := n.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metric
				}
			}
			switch mf.GetType().String() {
			case "COUNTER":
				return m.GetCounter().GetValue(), true
			case "GAUGE":
				return m.GetGauge().GetValue(), true
			case "HISTOGRAM":
				return float64(m.GetHistogram().GetSampleCount()), true
			case "SUMMARY":
				return float64(m.GetSummary().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// After a job, the client's metrics have its auction and its submit to
// result, the provider's its run and its capacity back; the provider
// summarises the GossipSub scores of the peers it scores.
func TestMetricsAfterAJob(t *testing.T) {
	t.Parallel()
	capacity := job.Resources{CPUMillis: 3000, MemoryBytes: 1 << 30}
	client, provs := meshOf(t, "test-metrics-job", Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: capacity})
	prov := provs[0]
	if out := submit(t, client, helloSpec(t, nil), nil); out.State != job.StateCompleted {
		t.Fatalf("job: %s (%s)", out.State, out.Error)
	}
	for _, c := range []struct {
		n      *Node
		name   string
		labels map[string]string
		min    float64
	}{
		{client, "computemesh_client_auction_seconds", nil, 1},
		{client, "computemesh_client_job_seconds", nil, 1},
		{client, "computemesh_client_jobs_total", map[string]string{"state": "completed"}, 1},
		{client, "computemesh_peers", nil, 1},
		{prov, "computemesh_provider_answers_total", map[string]string{"answer": "bid"}, 1},
		{prov, "computemesh_provider_runs_total", map[string]string{"result": "ok"}, 1},
		{prov, "computemesh_provider_capacity_cpu_cores", nil, 3},
	} {
		if v, ok := metricValue(t, c.n, c.name, c.labels); !ok || v < c.min {
			t.Errorf("%s%v: %v (found: %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if _, ok := metricValue(t, client, "computemesh_provider_free_cpu_cores", nil); ok {
		t.Errorf("a client serves computemesh_provider_free_cpu_cores")
	}
	// The run's reservation is returned once its result is delivered; the
	// scores come every 10 s.
	deadline := time.Now().Add(90 * time.Second)
	for {
		running, _ := metricValue(t, prov, "computemesh_provider_jobs_running", nil)
		free, _ := metricValue(t, prov, "computemesh_provider_free_cpu_cores", nil)
		mem, _ := metricValue(t, prov, "computemesh_provider_free_memory_bytes", nil)
		scored, _ := metricValue(t, prov, "computemesh_gossip_peer_score", nil)
		if running == 0 && free == 3 && mem == float64(capacity.MemoryBytes) && scored >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider: %v jobs running, %v cores and %v bytes free, %v peers scored; want 0, 3, %d, at least 1",
				running, free, mem, scored, capacity.MemoryBytes)
		}
		time.Sleep(200 * time.Millisecond)
	}
	below, ok := metricValue(t, prov, "computemesh_gossip_peers_below_threshold", map[string]string{"threshold": "graylist"})
	if !ok || below != 0 {
		t.Errorf("peers below the graylist threshold: %v (found: %v), want 0", below, ok)
	}
}
