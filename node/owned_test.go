package node

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutinesOf returns the stacks of the goroutines running a method of
// the node n or of one of its parts (provider, client, credits: the
// receiver's pointer is the method's first argument in the trace).
func goroutinesOf(n *Node) []string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	marks := map[string]string{"computemesh/node.(*Node).": fmt.Sprintf("(%p", n)}
	if n.provider != nil {
		marks["computemesh/provider.(*Provider)."] = fmt.Sprintf("(%p", n.provider)
	}
	if n.client != nil {
		marks["computemesh/client.(*Client)."] = fmt.Sprintf("(%p", n.client)
	}
	if n.credits != nil {
		marks["computemesh/credits.(*Book)."] = fmt.Sprintf("(%p", n.credits)
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if goroutineOf(g, marks) {
			out = append(out, g)
		}
	}
	return out
}

// goroutineOf says whether a goroutine's stack runs a method of one of
// marks' receivers (method prefix → receiver pointer).
func goroutineOf(g string, marks map[string]string) bool {
	for _, line := range strings.Split(g, "\n") {
		for mark, ptr := range marks {
			if strings.Contains(line, mark) && strings.Contains(line, ptr) {
				return true
			}
		}
	}
	return false
}

// Close waits for every goroutine of the node, stream handlers included: a
// job running for a client (its award handler, its run) cannot keep the
// node's code running past Close, and nothing starts after.
func TestCloseOwnsItsGoroutines(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"us-east", "0.5"}})
	p := provs[0]
	sub := sleeperSpec(t, 60*time.Second)
	sub.Spec.TimeoutMS = 120_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = client.Submit(ctx, sub, nil)
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the provider to run the job", func() bool {
		for _, g := range goroutinesOf(p) {
			if strings.Contains(g, "runTask") {
				return true
			}
		}
		return false
	})
	if err := p.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if gs := goroutinesOf(p); len(gs) > 0 {
		t.Fatalf("%d goroutines of the node still run after Close:\n%s", len(gs), strings.Join(gs, "\n\n"))
	}
	if p.spawn(func() { t.Error("a goroutine started after Close") }) {
		t.Fatal("spawn after Close started a goroutine")
	}
}
