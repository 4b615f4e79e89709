package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fundedClient starts a client on network that knows the test faucet and
// grants itself amount through it, waiting until every provider holds the
// grant.
func fundedClient(t *testing.T, network string, provs []*Node, cfg Config, amount job.Credits) *Node {
	t.Helper()
	cfg.Mode, cfg.Network, cfg.Faucet, cfg.HeartbeatTimeout = ModeClient, network, testfaucet.ID, testHeartbeatTimeout
	cfg.Bootstrap = []string{provs[0].Mesh().Addrs()[0].String()}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Mesh().WaitProviders(ctx, len(provs)); err != nil {
		t.Fatal(err)
	}
	if amount > 0 {
		g, err := SignGrant(testfaucet.Key(), network, c.ID().String(), amount)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddGrant(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every provider to hold the grant", func() bool {
			for _, p := range provs {
				if p.book.Spendable(c.ID().String()) != amount {
					return false
				}
			}
			return true
		})
	}
	return c
}

// A provider that joins after a client's grant was gossiped learns it from
// the client when the client first asks (every record verified), and bids.
func TestLateProviderLearnsTheGrant(t *testing.T) {
	t.Parallel()
	const network = "test-sync-late"
	small := job.Resources{CPUMillis: 4000, MemoryBytes: 2 << 30}
	cfg := Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, Faucet: testfaucet.ID}
	_, provs := meshOf(t, network, cfg)
	client := fundedClient(t, network, provs, Config{Ephemeral: true}, 10*job.Nano)

	p := lateProvider(t, cfg, "us-east", provs, client)
	if got := p.book.Spendable(client.ID().String()); got != 0 {
		t.Fatalf("the late provider already holds %s of the client's: the test needs it not to", got)
	}
	out := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Region = "us-east" }), nil)
	if out.State != job.StateCompleted || out.Provider != p.ID().String() {
		t.Fatalf("state %s on %s (%s); want completed by the late provider", out.State, out.Provider, out.Error)
	}
	if b := p.book.Balance(client.ID().String()); b.Granted != 10*job.Nano {
		t.Fatalf("the late provider's view of the client: %+v", b)
	}
}

// lateProvider starts a provider like cfg in region, joining provs' mesh
// after the rest, and waits until client sees it among the providers.
func lateProvider(t *testing.T, cfg Config, region string, provs []*Node, client *Node) *Node {
	t.Helper()
	cfg.Region, cfg.Mode, cfg.Network, cfg.Hardware = region, ModeProvider, provs[0].mesh.NetworkName(), testHardware(t)
	cfg.Bootstrap = []string{provs[0].Mesh().Addrs()[0].String()}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := client.Mesh().Connect(ctx, peer.AddrInfo{ID: p.ID(), Addrs: p.Mesh().Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if err := client.Mesh().WaitProviders(ctx, len(provs)+1); err != nil {
		t.Fatal(err)
	}
	return p
}

// An identity moved to a new data dir without its ledger (or restored from
// an old backup) learns the receipt numbers it signed before from its
// peers before it signs again: its next receipt continues its chain, and
// no provider holds a fraud proof against it.
func TestMovedIdentityContinuesItsChain(t *testing.T) {
	t.Parallel()
	const network = "test-sync-moved"
	small := job.Resources{CPUMillis: 4000, MemoryBytes: 2 << 30}
	_, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, Faucet: testfaucet.ID})
	old := t.TempDir()
	first := fundedClient(t, network, provs, Config{DataDir: old}, 10*job.Nano)
	for range 2 {
		if out := submit(t, first, helloSpec(t, nil), nil); out.State != job.StateCompleted {
			t.Fatalf("state %s: %s", out.State, out.Error)
		}
	}
	self := first.ID().String()
	waitFor(t, "the provider to hold both receipts", func() bool { return provs[0].book.NextSeq(self) == 3 })
	first.Close()

	moved := t.TempDir()
	key, err := os.ReadFile(filepath.Join(old, mesh.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moved, mesh.KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	again := fundedClient(t, network, provs, Config{DataDir: moved}, 0)
	if again.ID() != first.ID() {
		t.Fatal("the moved data dir has another identity")
	}
	if out := submit(t, again, helloSpec(t, nil), nil); out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	waitFor(t, "the provider to hold the third receipt", func() bool { return provs[0].book.NextSeq(self) == 4 })
	if provs[0].book.Fraudulent(self) || again.book.Fraudulent(self) {
		t.Fatal("the moved identity signed a number twice")
	}
	if b := provs[0].book.Balance(self); b.Pending != 0 || b.Spent == 0 {
		t.Fatalf("the provider's view of the moved client: %+v; want all three receipts counted", b)
	}
}
