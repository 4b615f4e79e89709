package award_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

const testProto = "/computemesh/test/award/1.0.0"

// pair is a client host and a provider host connected on 127.0.0.1; the
// provider answers the award stream with its handler.
type pair struct {
	client, provider host.Host
	done             chan error // what the provider's handler returned
}

func newPair(t *testing.T, handler func(s network.Stream) error) *pair {
	t.Helper()
	p := &pair{done: make(chan error, 1)}
	for _, h := range []*host.Host{&p.client, &p.provider} {
		var err error
		*h, err = libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*h).Close() })
	}
	p.provider.SetStreamHandler(testProto, func(s network.Stream) { p.done <- handler(s) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.client.Connect(ctx, peer.AddrInfo{ID: p.provider.ID(), Addrs: p.provider.Addrs()}); err != nil {
		t.Fatal(err)
	}
	return p
}

// open opens an award stream to the provider.
func (p *pair) open(t *testing.T) network.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := p.client.NewStream(ctx, p.provider.ID(), testProto)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// handlerErr is what the provider's handler returned.
func (p *pair) handlerErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the provider's handler did not return")
		return nil
	}
}

// testAward is a valid award of the client host's job to the provider host.
func (p *pair) testAward() *job.Award {
	spec := &job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID([]byte("\x00asm\x01\x00\x00\x00")).String(),
		Name: "hello", Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 10_000, MaxPrice: 1_500_000_000, Policy: job.PolicyCost,
	}
	nonce := []byte("0123456789abcdef")
	client := p.client.ID().String()
	id := job.NewID(spec, client, nonce).String()
	return &job.Award{V: job.Version, Job: id, Client: client, Nonce: nonce, Spec: *spec, Attempt: 1,
		Bid: job.Bid{V: job.Version, Job: id, Provider: p.provider.ID().String(), Price: 1000}}
}

// result is a result of a's run.
func result(a *job.Award) *job.Result {
	return &job.Result{Job: a.Job, Provider: a.Bid.Provider, Stdout: []byte("hello\n"), Charge: 700}
}

// books is a Payer and a Payee that sign with fixed bytes and remember what
// they pushed.
type books struct {
	mu      sync.Mutex
	pushed  []*job.Receipt
	refuse  string // CounterSign refuses with this
	tamper  bool   // CounterSign changes the amount
	checked bool
}

func (b *books) SignReceipt(_ context.Context, a *job.Award, charge job.Credits) (*job.Receipt, error) {
	return &job.Receipt{V: job.Version, Network: "devnet", Job: a.Job, Attempt: a.Attempt, Payer: a.Client,
		Payee: a.Bid.Provider, Amount: charge, Seq: 1, TimeMS: time.Now().UnixMilli(), PayerSig: []byte("payer")}, nil
}

func (b *books) CheckCounterSigned(sent, back *job.Receipt) error {
	b.mu.Lock()
	b.checked = true
	b.mu.Unlock()
	if back.Amount != sent.Amount || string(back.PayeeSig) != "payee" {
		return errors.New("the counter-signed receipt is not the one sent")
	}
	return nil
}

func (b *books) CounterSign(rc *job.Receipt, a *job.Award, client peer.ID, charge job.Credits) error {
	switch {
	case b.refuse != "":
		return errors.New(b.refuse)
	case rc.Job != a.Job || rc.Payer != client.String() || rc.Amount != charge:
		return fmt.Errorf("receipt for %s credits, the charge is %s", rc.Amount, charge)
	}
	rc.PayeeSig = []byte("payee")
	if b.tamper {
		rc.Amount++
	}
	return nil
}

func (b *books) PushRecord(rc *job.Receipt) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pushed = append(b.pushed, rc)
}

func (b *books) lastPushed(t *testing.T) *job.Receipt {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pushed) != 1 {
		t.Fatalf("%d receipts pushed to their holders, want 1", len(b.pushed))
	}
	return b.pushed[0]
}

// run is the provider end of a whole award: admitted, queued at each of
// queue's positions, accepted, the log written, the result, the receipt.
func run(payee award.Payee, queue []int, log string) func(network.Stream) error {
	return func(s network.Stream) error {
		ss, err := award.Serve(s)
		if err != nil {
			s.Close()
			return err
		}
		defer ss.Close()
		ctx, cancel := ss.Begin(context.Background())
		defer cancel()
		for _, pos := range queue {
			if err := ss.Queued(pos); err != nil {
				return err
			}
		}
		if err := ss.Accept(); err != nil {
			return err
		}
		fmt.Fprint(ss.Log(), log)
		res := result(ss.Award())
		if err := ss.Result(res); err != nil {
			return err
		}
		if err := ss.TakeReceipt(payee, res.Charge); err != nil {
			return fmt.Errorf("%w (client gone: %v)", err, ctx.Err() != nil)
		}
		return nil
	}
}

// follow is what the client end saw of an award.
type follow struct {
	queued   []int
	accepted bool
	log      strings.Builder
}

func (f *follow) options() []award.Option {
	return []award.Option{
		award.OnQueued(func(pos int) { f.queued = append(f.queued, pos) }),
		award.OnAccepted(func(time.Duration) { f.accepted = true }),
		award.OnLog(func(b []byte) { f.log.Write(b) }),
	}
}

func TestAwardToResultAndReceipt(t *testing.T) {
	tests := []struct {
		name  string
		queue []int
		log   string
	}{
		{"at once", nil, "line 1\nline 2\n"},
		{"queued then accepted", []int{2, 1}, "ran\n"},
		{"no log", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payee, payer := &books{}, &books{}
			p := newPair(t, run(payee, tt.queue, tt.log))
			a := p.testAward()
			var f follow
			call, err := award.Request(context.Background(), p.open(t), a, f.options()...)
			if err != nil {
				t.Fatal(err)
			}
			defer call.Close()
			res, err := call.Result()
			if err != nil {
				t.Fatalf("Result: %v", err)
			}
			if res.Job != a.Job || string(res.Stdout) != "hello\n" || res.Charge != 700 {
				t.Fatalf("result %+v", res)
			}
			if !f.accepted || fmt.Sprint(f.queued) != fmt.Sprint(tt.queue) && len(tt.queue) > 0 || f.log.String() != tt.log {
				t.Fatalf("accepted %v, queued %v (want %v), log %q (want %q)", f.accepted, f.queued, tt.queue, f.log.String(), tt.log)
			}
			if err := call.Pay(context.Background(), payer, res.Charge); err != nil {
				t.Fatalf("Pay: %v", err)
			}
			if err := p.handlerErr(t); err != nil {
				t.Fatalf("provider end: %v", err)
			}
			back, kept := payer.lastPushed(t), payee.lastPushed(t)
			if string(back.PayeeSig) != "payee" || string(kept.PayerSig) != "payer" || back.Amount != 700 || !payer.checked {
				t.Fatalf("client pushed %+v, provider %+v", back, kept)
			}
		})
	}
}

func TestDecline(t *testing.T) {
	p := newPair(t, func(s network.Stream) error {
		ss, err := award.Serve(s)
		if err != nil {
			return err
		}
		defer ss.Close()
		return ss.Decline("no standing bid for job x")
	})
	call, err := award.Request(context.Background(), p.open(t), p.testAward())
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	_, err = call.Result()
	if !errors.Is(err, award.ErrDeclined) || err.Error() != "declined: no standing bid for job x" {
		t.Fatalf("Result after a decline: %v", err)
	}
	if err := p.handlerErr(t); err != nil {
		t.Fatal(err)
	}
}

// A declined award after queueing (the queue's wait failed) ends the live
// log first: the decline follows the queued replies.
func TestDeclineWhileQueued(t *testing.T) {
	p := newPair(t, func(s network.Stream) error {
		ss, err := award.Serve(s)
		if err != nil {
			return err
		}
		defer ss.Close()
		_, cancel := ss.Begin(context.Background())
		defer cancel()
		if err := ss.Queued(1); err != nil {
			return err
		}
		return ss.Decline("queue full")
	})
	var f follow
	call, err := award.Request(context.Background(), p.open(t), p.testAward(), f.options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	if _, err := call.Result(); !errors.Is(err, award.ErrDeclined) || fmt.Sprint(f.queued) != "[1]" {
		t.Fatalf("Result: %v, queued %v", err, f.queued)
	}
	if err := p.handlerErr(t); err != nil {
		t.Fatal(err)
	}
}

// A provider that goes silent is taken for dead after the heartbeat
// timeout; one that waits while its heartbeats flow is not.
func TestHeartbeats(t *testing.T) {
	tests := []struct {
		name      string
		heartbeat bool
		wait      time.Duration
		timeout   time.Duration
		silent    bool
	}{
		{"silent", false, 5 * time.Second, 300 * time.Millisecond, true},
		{"heartbeats keep a slow start alive", true, 3 * time.Second, 2 * award.HeartbeatEvery, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quit := make(chan struct{})
			p := newPair(t, func(s network.Stream) error {
				ss, err := award.Serve(s)
				if err != nil {
					return err
				}
				defer ss.Close()
				if tt.heartbeat {
					_, cancel := ss.Begin(context.Background())
					defer cancel()
				}
				select {
				case <-quit:
					return nil
				case <-time.After(tt.wait):
				}
				if err := ss.Accept(); err != nil {
					return err
				}
				return ss.Result(result(ss.Award()))
			})
			defer close(quit)
			call, err := award.Request(context.Background(), p.open(t), p.testAward(), award.HeartbeatTimeout(tt.timeout))
			if err != nil {
				t.Fatal(err)
			}
			defer call.Close()
			start := time.Now()
			_, err = call.Result()
			switch {
			case tt.silent && (!errors.Is(err, award.ErrSilent) || !strings.Contains(err.Error(), fmt.Sprintf("provider silent for %v (no heartbeat): taken for dead", tt.timeout))):
				t.Fatalf("Result from a silent provider: %v", err)
			case tt.silent && time.Since(start) > tt.wait:
				t.Fatalf("a silent provider taken for dead after %v", time.Since(start))
			case !tt.silent && err != nil:
				t.Fatalf("Result with heartbeats: %v", err)
			}
		})
	}
}

// A client that goes away before its receipt: the provider end's context
// ends and TakeReceipt fails, the role's cue to claim.
func TestClientGoneBeforeReceipt(t *testing.T) {
	payee := &books{}
	p := newPair(t, run(payee, nil, "x\n"))
	s := p.open(t)
	call, err := award.Request(context.Background(), s, p.testAward())
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	if _, err := call.Result(); err != nil {
		t.Fatal(err)
	}
	_ = s.Reset()
	err = p.handlerErr(t)
	if err == nil || !strings.Contains(err.Error(), "reading the receipt") || !strings.Contains(err.Error(), "client gone: true") {
		t.Fatalf("provider end after a reset: %v", err)
	}
	if len(payee.pushed) != 0 {
		t.Fatalf("pushed %d receipts", len(payee.pushed))
	}
}

// A cancelled call resets its stream: the provider end's context ends.
func TestCallCancelled(t *testing.T) {
	gone := make(chan error, 1)
	p := newPair(t, func(s network.Stream) error {
		ss, err := award.Serve(s)
		if err != nil {
			return err
		}
		defer ss.Close()
		ctx, cancel := ss.Begin(context.Background())
		defer cancel()
		<-ctx.Done()
		gone <- ctx.Err()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	call, err := award.Request(ctx, p.open(t), p.testAward())
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := call.Result(); err == nil {
		t.Fatal("a cancelled call returned a result")
	}
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the provider end's context: %v", err)
	}
}

// The receipt step's failures: the provider refuses the receipt (the
// client pushes it signed alone), or returns another one.
func TestReceiptRefused(t *testing.T) {
	tests := []struct {
		name    string
		payee   *books
		client  string // Pay's error
		handler string // the provider end's error
	}{
		{"refused", &books{refuse: "receipt for 1 credits, the charge is 2"}, "waiting for the counter-signed receipt", "receipt for 1 credits"},
		{"another receipt back", &books{tamper: true}, "the counter-signed receipt is not the one sent", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payer := &books{}
			p := newPair(t, run(tt.payee, nil, ""))
			call, err := award.Request(context.Background(), p.open(t), p.testAward())
			if err != nil {
				t.Fatal(err)
			}
			defer call.Close()
			res, err := call.Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := call.Pay(context.Background(), payer, res.Charge); err == nil || !strings.Contains(err.Error(), tt.client) {
				t.Fatalf("Pay: %v, want %q", err, tt.client)
			}
			if rc := payer.lastPushed(t); string(rc.PayerSig) != "payer" || len(rc.PayeeSig) != 0 {
				t.Fatalf("the client pushed %+v, want its receipt signed alone", rc)
			}
			err = p.handlerErr(t)
			if tt.handler == "" && err != nil || tt.handler != "" && (err == nil || !strings.Contains(err.Error(), tt.handler)) {
				t.Fatalf("provider end: %v, want %q", err, tt.handler)
			}
		})
	}
}
