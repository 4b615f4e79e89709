package award_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/network"
)

// arrayAward is testAward made a job array of count tasks, with slice as
// its provider's slice.
func (p *pair) arrayAward(count int, slice []int) *job.Award {
	a := p.testAward()
	a.Spec.Count = count
	a.Job = job.NewID(&a.Spec, a.Client, a.Nonce).String()
	a.Bid.Job, a.Tasks = a.Job, slice
	return a
}

// runSlice is the provider end of a slice: accepted, a result for each of
// tasks (charging charge each), then the receipt for their sum.
func runSlice(payee award.Payee, tasks []int, charge job.Credits) func(network.Stream) error {
	return func(s network.Stream) error {
		ss, err := award.Serve(s)
		if err != nil {
			s.Close()
			return err
		}
		defer ss.Close()
		_, cancel := ss.Begin(context.Background())
		defer cancel()
		if err := ss.Accept(); err != nil {
			return err
		}
		var sum job.Credits
		for _, t := range tasks {
			res := result(ss.Award())
			res.Task, res.Charge = t, charge
			if err := ss.TaskResult(res); err != nil {
				return err
			}
			sum += charge
		}
		ss.EndLog()
		return ss.TakeReceipt(payee, sum)
	}
}

func TestSliceResultsAndOneReceipt(t *testing.T) {
	tests := []struct {
		name     string
		slice    []int
		sent     []int // the tasks the provider answers, in its order
		charge   job.Credits
		breach   string // ErrBreach naming this, or "" for a whole slice
		received int
	}{
		{name: "every task, out of order", slice: []int{1, 4, 7}, sent: []int{7, 1, 4}, charge: 300, received: 3},
		{name: "a task outside the slice", slice: []int{1, 4}, sent: []int{1, 2}, charge: 300, breach: "task 2, outside its slice", received: 1},
		{name: "a task twice", slice: []int{1, 4}, sent: []int{4, 4}, charge: 300, breach: "second result for task 4", received: 1},
		{name: "a charge over the authorisation", slice: []int{0, 1}, sent: []int{0, 1}, charge: 1001, breach: "charges 0.000001001, over the 0.000001", received: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, payee := &books{}, &books{}
			p := newPair(t, runSlice(payee, tt.sent, tt.charge))
			a := p.arrayAward(8, tt.slice)
			call, err := award.Request(context.Background(), p.open(t), a)
			if err != nil {
				t.Fatal(err)
			}
			defer call.Close()
			var mu sync.Mutex
			var got []int
			var sum job.Credits
			err = call.TaskResults(a.Bid.Price, func(r *job.Result) {
				mu.Lock()
				defer mu.Unlock()
				got, sum = append(got, r.Task), sum+r.Charge
			})
			if len(got) != tt.received {
				t.Fatalf("%d results handed over (%v), want %d", len(got), got, tt.received)
			}
			if tt.breach != "" {
				if !errors.Is(err, award.ErrBreach) || !strings.Contains(err.Error(), tt.breach) || !strings.Contains(err.Error(), a.Bid.Provider) {
					t.Fatalf("TaskResults: %v, want a breach naming the provider and %q", err, tt.breach)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := call.Pay(context.Background(), b, sum); err != nil {
				t.Fatal(err)
			}
			if err := p.handlerErr(t); err != nil {
				t.Fatal(err)
			}
			if rc := b.lastPushed(t); rc.Amount != sum || rc.Amount != tt.charge*job.Credits(len(tt.slice)) {
				t.Fatalf("one receipt of %s, want the slice's sum %s", rc.Amount, sum)
			}
		})
	}
}
