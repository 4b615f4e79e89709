package node

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// BenchmarkFailover measures how long a job is without a provider when its
// winner is killed mid-run: from the kill to the runner-up of the same
// auction running it (failover-ms), and to the result (result-ms). Each
// iteration builds a fresh two-provider mesh, warms the runner-up with the
// module, then kills the winner 300 ms into a 3 s job. A killed process's
// connections are reset, so this is the fast path; a provider that falls
// silent instead is found out by missing heartbeats (the heartbeat timeout,
// 3 s by default, is then added).
func BenchmarkFailover(b *testing.B) {
	var failover, result []time.Duration
	for range b.N {
		b.StopTimer()
		client, provs := testMeshTB(b, []provSpec{{"us-east", "0.5"}, {"eu-west", "0.9"}})
		warm := guestSpec(b, "hello")
		warm.Spec.Region = "eu-west"
		if out, err := client.Submit(context.Background(), warm, nil); err != nil || out.State != job.StateCompleted {
			b.Fatalf("warming the runner-up: %v %+v", err, out)
		}
		sub := guestSpec(b, "sleep", "3s")
		var killedAt atomic.Int64 // unix ns
		var took time.Duration
		b.StartTimer()
		out, err := client.Submit(context.Background(), sub, func(e job.Event) {
			if e.Kind != job.EventRunning {
				return
			}
			if e.Provider == provs[0].ID().String() {
				go func() {
					time.Sleep(300 * time.Millisecond)
					killedAt.Store(time.Now().UnixNano())
					provs[0].Close()
				}()
			} else if k := killedAt.Load(); k != 0 {
				took = time.Since(time.Unix(0, k))
			}
		})
		b.StopTimer()
		if err != nil || out.State != job.StateCompleted || out.Provider != provs[1].ID().String() {
			b.Fatalf("failover: %v, %+v", err, out)
		}
		failover = append(failover, took)
		result = append(result, time.Since(time.Unix(0, killedAt.Load())))
		client.Close()
		provs[1].Close()
	}
	var f, r time.Duration
	for i := range failover {
		f += failover[i]
		r += result[i]
	}
	b.ReportMetric(float64(f)/float64(len(failover))/1e6, "failover-ms")
	b.ReportMetric(float64(r)/float64(len(result))/1e6, "result-ms")
}
