package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// fakeMesh records the answers a provider sends.
type fakeMesh struct {
	mu   sync.Mutex
	bids []job.Bid
}

func (m *fakeMesh) Host() host.Host                                         { return nil }
func (m *fakeMesh) Protocol(name string) protocol.ID                        { return protocol.ID(name) }
func (m *fakeMesh) OnRequest(mesh.RequestHandler, ...string) error          { return nil }
func (m *fakeMesh) TakesBids(peer.ID, bool) bool                            { return true }
func (m *fakeMesh) Announce([]string, chan<- struct{})                      {}
func (m *fakeMesh) PutCapacity(context.Context, *job.Capacity) (int, error) { return 0, nil }
func (m *fakeMesh) FetchBlob(context.Context, peer.ID, string, int64) ([]byte, error) {
	return nil, errors.New("no blobs here")
}

func (m *fakeMesh) SendBid(_ context.Context, b *job.Bid, _ peer.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bids = append(m.bids, *b)
	return nil
}

// sent returns the answers sent so far.
func (m *fakeMesh) sent() []job.Bid {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.bids)
}

// fakeCredits is a ledger in which every client has balance.
type fakeCredits struct {
	balance   job.Credits
	judged    int
	unsettled bool // the client's records are still coming
}

func (c *fakeCredits) Judge(context.Context, peer.ID) bool { c.judged++; return !c.unsettled }
func (c *fakeCredits) Funded(client string, committed, price job.Credits) string {
	if committed+price > c.balance {
		return fmt.Sprintf("client %s has %s credits, the price is %s", client, c.balance, price)
	}
	return ""
}
func (c *fakeCredits) Owes(string) job.Credits                                          { return 0 }
func (c *fakeCredits) CheckAuthorization(*job.Award, peer.ID, job.Credits) string       { return "" }
func (c *fakeCredits) Reserve(*job.Award, func(job.Credits) string) string              { return "" }
func (c *fakeCredits) Settle(string, int)                                               {}
func (c *fakeCredits) Claim(*job.Award, job.Credits, string)                            {}
func (c *fakeCredits) CounterSign(*job.Receipt, *job.Award, peer.ID, job.Credits) error { return nil }
func (c *fakeCredits) PushRecord(*job.Receipt)                                          {}

// clock is a test's clock, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testHardware = hwprobe.Report{CPU: hwprobe.CPU{Threads: 4}, Memory: hwprobe.Memory{UsableBytes: 8 << 30}}

// testProvider is a provider made by New on testHardware, whose answers
// go to a fakeMesh (it is not started: the test drives it).
func testProvider(t *testing.T, o Options, c *fakeCredits) (*Provider, *fakeMesh, *clock) {
	t.Helper()
	hw := testHardware
	o.Hardware = &hw
	if o.Region == "" {
		o.Region = "eu-west"
	}
	if o.Rates.CPUHour == 0 {
		o.Rates.CPUHour = job.Nano
	}
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	o.Now = clk.now
	p, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	m := &fakeMesh{}
	p.mesh, p.credits, p.self = m, c, peer.ID("provider")
	p.selfID = p.self.String()
	return p, m, clk
}

// testRequest is a request for 1 core for 10 s in eu-*, its bid window
// ending a second after now.
func testRequest(now time.Time) *job.Request {
	return &job.Request{V: job.Version, Job: "job-1", Client: "client-1", Executor: job.ExecutorWASM,
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}, TimeoutMS: 10_000, Region: "eu-*",
		BidByMS: now.Add(time.Second).UnixMilli()}
}

// Every reason a provider declines goes through its admission pipeline,
// in order, with the codes and texts its clients see.
func TestAdmission(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		poor       bool // the client has no credits
		unsettled  bool // its records are still coming
		drain      bool
		offer      []string // executors offered beyond wasm
		req        func(r *job.Request)
		wantCode   job.DeclineReason
		wantDetail string
		wantJudged int
	}{
		{name: "a bid"},
		{name: "a bid on a network with credits judges the client", opts: Options{Balances: true}, wantJudged: 1},
		{name: "draining declines whatever the request", drain: true, req: func(r *job.Request) { r.Region = "us-*" },
			wantCode: job.DeclineBusy, wantDetail: "draining: taking no new jobs"},
		{name: "the offer's checks before the provider's", req: func(r *job.Request) { r.Region = "us-*"; r.Network = true },
			wantCode: job.DeclineRegion, wantDetail: "region eu-west does not match us-*"},
		{name: "network access not allowed", req: func(r *job.Request) { r.Network = true },
			wantCode: job.DeclineNetwork, wantDetail: "this provider's owner does not allow jobs network access"},
		{name: "network access allowed", opts: Options{AllowJobNetwork: true}, req: func(r *job.Request) { r.Network = true }},
		{name: "URL inputs not allowed", req: func(r *job.Request) { r.URLInputs = true },
			wantCode: job.DeclineURLInputs, wantDetail: "this provider's owner does not let jobs' inputs be fetched from URLs"},
		{name: "URL inputs allowed", opts: Options{AllowURLInputs: true}, req: func(r *job.Request) { r.URLInputs = true }},
		{name: "an image not present", offer: []string{job.ExecutorDocker},
			req:      func(r *job.Request) { r.Executor, r.Image = job.ExecutorDocker, "alpine:3" },
			wantCode: job.DeclineImage, wantDetail: "image alpine:3 is not present here"},
		{name: "a command not allowed", offer: []string{job.ExecutorExec},
			req:      func(r *job.Request) { r.Executor, r.Command = job.ExecutorExec, "/usr/bin/true" },
			wantCode: job.DeclineCommand, wantDetail: "command /usr/bin/true is not allowed here"},
		{name: "funds, once priced", opts: Options{Balances: true}, poor: true,
			wantCode: job.DeclineFunds, wantDetail: "client client-1 has 0 credits, the price is 0.002777778", wantJudged: 1},
		{name: "no funds yet while the client's records are coming", opts: Options{Balances: true}, poor: true, unsettled: true,
			wantCode: job.DeclineBusy, wantDetail: "busy: still fetching the records of client client-1 from its holders to judge whether it can pay; ask again", wantJudged: 1},
		{name: "the price before the funds", opts: Options{Balances: true}, poor: true, req: func(r *job.Request) { r.MaxPrice = 1 },
			wantCode: job.DeclinePrice, wantDetail: "price 0.002777778 over max 0.000000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeCredits{balance: job.Nano}
			if tt.poor {
				c.balance = 0
			}
			c.unsettled = tt.unsettled
			p, m, clk := testProvider(t, tt.opts, c)
			p.offer.Executors = append(p.offer.Executors, tt.offer...)
			if tt.drain {
				p.draining.Store(true)
			}
			r := testRequest(clk.now())
			if tt.req != nil {
				tt.req(r)
			}
			p.onRequest(r, peer.ID(r.Client))
			sent := m.sent()
			if len(sent) != 1 {
				t.Fatalf("%d answers, want 1", len(sent))
			}
			b := sent[0]
			if b.Decline != tt.wantCode || b.Detail != tt.wantDetail {
				t.Errorf("answer %q (%q), want %q (%q)", b.Decline, b.Detail, tt.wantCode, tt.wantDetail)
			}
			if c.judged != tt.wantJudged {
				t.Errorf("judged the client %d times, want %d", c.judged, tt.wantJudged)
			}
			total, _ := p.StandingBids()
			switch {
			case b.Decline == "" && (b.Price <= 0 || total != 1 || !p.HasBid(r.Job)):
				t.Errorf("a bid of %s with %d standing bids", b.Price, total)
			case b.Decline != "" && (b.Price != 0 || total != 0):
				t.Errorf("a decline of price %s with %d standing bids", b.Price, total)
			}
			if b.Provider != p.self.String() || b.Job != r.Job || b.ExpiresMS != r.BidByMS+(clockSkew+DefaultBidGrace).Milliseconds() {
				t.Errorf("answer from %q for %q expiring %d", b.Provider, b.Job, b.ExpiresMS)
			}
		})
	}
}

// Bid windows, a bid's expiry and a hold are read on the provider's clock.
func TestBidsOnTheClock(t *testing.T) {
	p, m, clk := testProvider(t, Options{BidGrace: time.Second}, &fakeCredits{balance: job.Nano})
	start := clk.now()
	r := testRequest(start)
	p.onRequest(r, peer.ID(r.Client))
	p.onRequest(r, peer.ID(r.Client)) // re-gossiped: the bid stands
	if n := len(m.sent()); n != 1 {
		t.Fatalf("%d answers to a request and its re-gossip, want 1", n)
	}
	expires := start.Add(time.Second + clockSkew + time.Second)
	if got := m.sent()[0].ExpiresMS; got != expires.UnixMilli() {
		t.Fatalf("bid expires at %d, want %d (window + skew + grace)", got, expires.UnixMilli())
	}

	// A window far ahead counts for at most maxBidWindow.
	far := testRequest(start)
	far.Job, far.BidByMS = "job-far", start.Add(time.Hour).UnixMilli()
	p.onRequest(far, peer.ID(far.Client))
	if got, want := m.sent()[1].ExpiresMS, start.Add(maxBidWindow+clockSkew+time.Second).UnixMilli(); got != want {
		t.Fatalf("a far window's bid expires at %d, want %d", got, want)
	}

	// Past its window and the skew, a request is not answered.
	clk.add(time.Second + clockSkew + time.Millisecond)
	late := testRequest(start)
	late.Job = "job-late"
	p.onRequest(late, peer.ID(late.Client))
	if n := len(m.sent()); n != 2 {
		t.Fatalf("%d answers after a window closed, want 2", n)
	}

	// The client holds its backup's bid: it stands until the job could
	// have ended; the loser's expires after its grace.
	if why := p.bids.hold(r.Job, r.Client, clk.now()); why != "" {
		t.Fatalf("hold: %s", why)
	}
	clk.add(time.Second)
	if left := p.bids.expire(clk.now().UnixMilli()); left != 2 {
		t.Fatalf("%d bids left once the loser's grace is over, want the held one and the far one", left)
	}
	clk.add(time.Duration(r.TimeoutMS)*time.Millisecond + heldGrace)
	if left := p.bids.expire(clk.now().UnixMilli()); left != 1 {
		t.Fatalf("%d bids left after the held job's timeout and grace, want the far one", left)
	}
	clk.add(maxBidWindow)
	if left := p.bids.expire(clk.now().UnixMilli()); left != 0 {
		t.Fatalf("%d bids left after the longest window, want 0", left)
	}
}

// A configuration the machine cannot serve fails New, matching ErrConfig
// and saying why in the node's words.
func TestNewConfigErrors(t *testing.T) {
	noMemory := testHardware
	noMemory.Memory.UsableBytes = 0
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"simulated on a real network", Options{Network: "mainnet", Simulated: &Simulated{CPUMillis: 1000}, Hardware: &testHardware},
			`simulated capacity on network "mainnet": only on test networks (names starting with "test", and "devnet")`},
		{"memory unknown", Options{Hardware: &noMemory}, "the machine's memory could not be read: set --memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(context.Background(), tt.o)
			if err == nil {
				_ = p.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrConfig) || err.Error() != tt.want {
				t.Fatalf("New: %v (ErrConfig: %v), want %q", err, errors.Is(err, ErrConfig), tt.want)
			}
		})
	}
}

// The record announces what the options declare, and its capabilities
// name the GPU's model by every dash-prefix of its key.
func TestRecordAndCapabilities(t *testing.T) {
	h100 := job.GPU{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 80 << 30}
	c, err := Record(Options{Network: "test-rec", Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, PriceFloor: 7,
		Capacity: job.Resources{CPUMillis: 2000}, Simulated: &Simulated{GPUs: []job.GPU{h100}}}, &testHardware)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Simulated || c.Total.GPUs != 1 || c.Total.CPUMillis != 2000 || c.Total.MemoryBytes != 8<<30 || c.Free != c.Total || c.Rates.Floor != 7 {
		t.Fatalf("record: %+v", c)
	}
	caps := strings.Join(capabilities(&c), " ")
	for _, want := range []string{"gpu", "gpu-vendor=nvidia", "gpu-model=h100", "gpu-model=h100-80gb-hbm3"} {
		if !slices.Contains(strings.Fields(caps), want) {
			t.Errorf("capabilities %s lack %s", caps, want)
		}
	}
}

// An award is checked against the request bid on whichever way the client
// asked for answers: GossipBids is not part of what it asked for, and an
// award rebuilt from the spec never carries it.
func TestAwardOfAGossipBidsRequest(t *testing.T) {
	for _, gossip := range []bool{false, true} {
		p, m, clk := testProvider(t, Options{}, &fakeCredits{balance: job.Nano})
		spec := job.Spec{Executor: job.ExecutorWASM, Module: "bafkqaaa", Region: "eu-*", TimeoutMS: 10_000,
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}}
		client := peer.ID("client-1")
		r := job.NewRequest("job-1", client.String(), &spec, clk.now().Add(time.Second).UnixMilli())
		r.GossipBids = gossip
		p.onRequest(r, client)
		sent := m.sent()
		if len(sent) != 1 || sent[0].Decline != "" {
			t.Fatalf("gossip %v: answers %+v, want one bid", gossip, sent)
		}
		a := &job.Award{V: job.Version, Job: r.Job, Client: r.Client, Spec: spec, Bid: sent[0], Attempt: 1}
		if _, why := p.admitAward(a, client); why != "" {
			t.Fatalf("gossip %v: the award was declined: %s", gossip, why)
		}
	}
}
