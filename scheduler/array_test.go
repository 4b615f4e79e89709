package scheduler_test

import (
	"slices"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

func TestAllocate(t *testing.T) {
	opts := func(tasks ...int) []scheduler.Option {
		out := make([]scheduler.Option, len(tasks))
		for i, n := range tasks {
			out[i].Bid = job.Bid{Tasks: n}
		}
		return out
	}
	tests := []struct {
		name   string
		ranked []scheduler.Option
		n      int
		want   []int
	}{
		{name: "no bids", ranked: nil, n: 10, want: []int{}},
		{name: "the best takes all it can", ranked: opts(10, 10), n: 4, want: []int{4, 0}},
		{name: "down the ranking", ranked: opts(4, 4, 4), n: 10, want: []int{4, 4, 2}},
		{name: "exactly the room", ranked: opts(3, 2), n: 5, want: []int{3, 2}},
		{name: "the rest to the queues in proportion", ranked: opts(4, 2), n: 15, want: []int{11, 4}},
		{name: "a bid that says nothing takes one", ranked: opts(0, 0), n: 3, want: []int{2, 1}},
		{name: "no tasks", ranked: opts(4), n: 0, want: []int{0}},
		{name: "one bid takes the whole array", ranked: opts(1), n: 7, want: []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scheduler.Allocate(tt.ranked, tt.n)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Allocate(%d) = %v, want %v", tt.n, got, tt.want)
			}
			sum := 0
			for _, g := range got {
				sum += g
			}
			if len(tt.ranked) > 0 && sum != tt.n {
				t.Fatalf("allocated %d of %d tasks", sum, tt.n)
			}
		})
	}
}
