package main

import (
	"syscall"
	"testing"
)

// A provider that falls silent while its connections stay open (SIGSTOP,
// as a process killed behind QUIC looks until the connection's idle
// timeout) stops costing a running client's auctions: after it left two
// auctions unanswered the client pings it, disconnects it when the ping
// fails, and leaves it out of the next auctions; the jobs meanwhile run on
// the other provider.
func TestCLISilentProviderLeftOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mesh of processes")
	}
	t.Parallel()
	home := t.TempDir()
	network := randomNetwork(t)
	guest, err := guestModule()
	if err != nil {
		t.Fatal(err)
	}
	cheap := startProvider(t, home, network, "cheap", "eu-west", "0.5", nil)
	boot := []string{cheap.info.addr(t, "tcp")}
	dear := startProvider(t, home, network, "dear", "eu-central", "0.9", boot)
	client := startProvider(t, home, network, "client", "eu-west", "0.5", boot, "--mode", "client")
	via := func(args ...string) []string {
		return append([]string{"--data-dir", client.dataDir, "--bid-window", "1s", "--wasm", guest}, args...)
	}
	if _, out := meshSubmit(t, home, 2, via("--", "hello")...); out.State != "completed" || out.Provider != cheap.info.PeerID {
		t.Fatalf("warm-up: state %s on %s (%s)", out.State, out.Provider, out.Error)
	}
	if err := cheap.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cheap.cmd.Process.Signal(syscall.SIGCONT) })
	for i := 0; ; i++ {
		if i == 30 {
			t.Fatalf("30 jobs after the cheap provider froze, the client still counts it among its candidates\nclient stderr:\n%s", client.stderr)
		}
		r, out := submit(t, home, via("--", "hello")...)
		if out.State != "completed" || out.Provider != dear.info.PeerID {
			t.Fatalf("job %d after the freeze: state %s on %s (%s)\n%s", i, out.State, out.Provider, out.Error, r)
		}
		if out.Candidates == 1 {
			break
		}
	}
}
