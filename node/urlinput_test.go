package node

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// An input given by URL is fetched by the provider, only by one whose
// owner allows it: the cheaper provider, which does not, declines
// (url_inputs), the other fetches the input from a local HTTP server (a
// test network may reach loopback) and runs the job, whose output says it
// read it.
func TestEndToEndURLInput(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("from the web")) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	client, provs := testMeshWith(t, []provSpec{{"eu-west", "0.5"}, {"us-east", "0.9"}}, func(i int, cfg *Config) {
		cfg.AllowURLInputs = i == 1
	})
	sub := guestSpec(t, "upper")
	sub.Spec.Inputs = []job.Input{{Name: "in.txt", URL: "http://" + l.Addr().String() + "/in.txt"}}
	var declined atomic.Bool
	out := submit(t, client, sub, func(e job.Event) {
		if e.Kind == job.EventDecline && e.Provider == provs[0].ID().String() && e.Decline == job.DeclineURLInputs {
			declined.Store(true)
		}
	})
	if out.State != job.StateCompleted || out.Provider != provs[1].ID().String() {
		t.Fatalf("state %s on %s (want completed on %s): %s", out.State, out.Provider, provs[1].ID(), out.Error)
	}
	if !declined.Load() {
		t.Fatal("the provider whose owner does not allow URL inputs did not decline for that reason")
	}
	mc, err := job.ParseCID(out.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	dir := exportOutputs(t, client, mc)
	if b, err := os.ReadFile(filepath.Join(dir, "upper.txt")); err != nil || string(b) != "FROM THE WEB" {
		t.Fatalf("output upper.txt: %q, %v", b, err)
	}
}
