package scheduler_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

func isDone(a *scheduler.Auction) bool {
	select {
	case <-a.Done():
		return true
	default:
		return false
	}
}

func answer(jobID, provider string, price job.Credits) job.Bid {
	return job.Bid{V: job.Version, Job: jobID, Provider: provider, Price: price}
}

func providersOf(bids []job.Bid) []string {
	out := make([]string, len(bids))
	for i, b := range bids {
		out[i] = b.Provider
	}
	return out
}

func TestAuction(t *testing.T) {
	type step struct {
		offer    *job.Bid // offer this answer, or
		expect   []string // call Expect with these
		recorded bool     // what Offer must report
		done     bool     // whether the auction must be done after the step
	}
	bid := func(jobID, p string, price job.Credits, recorded, done bool) step {
		b := answer(jobID, p, price)
		return step{offer: &b, recorded: recorded, done: done}
	}
	tests := []struct {
		name      string
		expected  []string
		steps     []step
		wantOrder []string
		wantPrice map[string]job.Credits
	}{
		{
			name:     "complete exactly when all expected answered",
			expected: []string{"a", "b", "c"},
			steps: []step{
				bid("J", "b", 2, true, false),
				bid("J", "a", 1, true, false),
				bid("J", "c", 3, true, true),
			},
			wantOrder: []string{"b", "a", "c"},
		},
		{
			name:     "answers to other jobs are ignored",
			expected: []string{"a"},
			steps: []step{
				bid("OTHER", "a", 1, false, false),
				bid("", "a", 1, false, false),
				bid("J", "a", 5, true, true),
			},
			wantOrder: []string{"a"},
			wantPrice: map[string]job.Credits{"a": 5},
		},
		{
			name:     "duplicates are ignored and the first answer stands",
			expected: []string{"a", "b"},
			steps: []step{
				bid("J", "a", 1, true, false),
				bid("J", "a", 9, false, false),
				bid("J", "b", 2, true, true),
			},
			wantOrder: []string{"a", "b"},
			wantPrice: map[string]job.Credits{"a": 1},
		},
		{
			name:     "unexpected providers are recorded but do not complete it",
			expected: []string{"a"},
			steps: []step{
				bid("J", "x", 7, true, false),
				bid("J", "a", 1, true, true),
			},
			wantOrder: []string{"x", "a"},
		},
		{
			name:     "answers after completion are ignored",
			expected: []string{"a"},
			steps: []step{
				bid("J", "a", 1, true, true),
				bid("J", "late", 1, false, true),
			},
			wantOrder: []string{"a"},
		},
		{
			name:     "no expected candidates: only the deadline closes it",
			expected: nil,
			steps: []step{
				bid("J", "a", 1, true, false),
				bid("J", "b", 1, true, false),
			},
			wantOrder: []string{"a", "b"},
		},
		{
			name:     "Expect adds candidates",
			expected: []string{"a"},
			steps: []step{
				{expect: []string{"b"}},
				bid("J", "a", 1, true, false),
				bid("J", "b", 2, true, true),
			},
			wantOrder: []string{"a", "b"},
		},
		{
			name:     "Expect of a known candidate changes nothing",
			expected: []string{"a"},
			steps: []step{
				{expect: []string{"a", "a"}},
				bid("J", "a", 1, true, true),
			},
			wantOrder: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := scheduler.NewAuction("J", tt.expected)
			if a.Job() != "J" {
				t.Fatalf("Job() = %q", a.Job())
			}
			for i, s := range tt.steps {
				if s.offer == nil {
					a.Expect(s.expect...)
					if isDone(a) {
						t.Fatalf("step %d: Expect(%v) completed the auction", i, s.expect)
					}
					continue
				}
				if got := a.Offer(*s.offer); got != s.recorded {
					t.Fatalf("step %d: Offer(job %q from %q) = %v, want %v", i, s.offer.Job, s.offer.Provider, got, s.recorded)
				}
				if got := isDone(a); got != s.done {
					t.Fatalf("step %d: done = %v after the answer of %q, want %v", i, got, s.offer.Provider, s.done)
				}
			}
			got := a.Close()
			if fmt.Sprint(providersOf(got)) != fmt.Sprint(tt.wantOrder) {
				t.Fatalf("Close() order = %v, want %v", providersOf(got), tt.wantOrder)
			}
			for _, b := range got {
				if b.Job != "J" {
					t.Fatalf("Close() returned an answer for job %q", b.Job)
				}
				if want, ok := tt.wantPrice[b.Provider]; ok && b.Price != want {
					t.Fatalf("answer of %s has price %d, want the first answer's %d", b.Provider, b.Price, want)
				}
			}
			if !isDone(a) {
				t.Fatal("Done() is not closed after Close()")
			}
			// Closing is idempotent and later answers are ignored.
			if a.Offer(answer("J", "after-close", 1)) {
				t.Fatal("Offer after Close was recorded")
			}
			if again := a.Close(); fmt.Sprint(providersOf(again)) != fmt.Sprint(tt.wantOrder) {
				t.Fatalf("second Close() = %v, want %v", providersOf(again), tt.wantOrder)
			}
		})
	}
}

func TestAuctionExpected(t *testing.T) {
	tests := []struct {
		name     string
		expected []string
		more     []string
		want     int
	}{
		{"none", nil, nil, 0},
		{"three", []string{"a", "b", "c"}, nil, 3},
		{"duplicates count once", []string{"a", "a", "b"}, nil, 2},
		{"Expect adds", []string{"a"}, []string{"b", "c"}, 3},
		{"Expect of known peers", []string{"a", "b"}, []string{"b", "a"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := scheduler.NewAuction("J", tt.expected)
			a.Expect(tt.more...)
			if got := a.Expected(); got != tt.want {
				t.Fatalf("Expected() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAuctionConcurrent(t *testing.T) {
	const n = 64
	expected := make([]string, n)
	for i := range expected {
		expected[i] = fmt.Sprintf("p%02d", i)
	}
	a := scheduler.NewAuction("J", expected)
	var wg sync.WaitGroup
	recorded := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each provider answers twice, and someone answers another job.
			recorded[i] = a.Offer(answer("J", expected[i], job.Credits(i)))
			if a.Offer(answer("J", expected[i], -1)) {
				t.Errorf("second answer of %s recorded", expected[i])
			}
			a.Offer(answer("K", expected[i], -1))
			_ = a.Expected()
		}()
	}
	<-a.Done()
	wg.Wait()
	got := a.Close()
	if len(got) != n {
		t.Fatalf("Close() returned %d answers, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, b := range got {
		if seen[b.Provider] || b.Price < 0 || b.Job != "J" {
			t.Fatalf("unexpected answer %+v (seen before: %v)", b, seen[b.Provider])
		}
		seen[b.Provider] = true
	}
	for i, ok := range recorded {
		if !ok {
			t.Fatalf("first answer of %s not recorded", expected[i])
		}
	}
}
