package main

import (
	"slices"
	"testing"
	"time"

	"github.com/computemesh/computemesh/client"
	"github.com/computemesh/computemesh/node"
)

// A batch (--repeat) without a deadline gets the default soft wait bound
// unless it asks for one, or for none with --max-wait 0.
func TestBatchMaxWait(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		sub   node.Submission
		want  time.Duration
	}{
		{"no deadline, no bound: the default", nil, node.Submission{}, client.DefaultBatchMaxWait},
		{"--max-wait 0: none", []string{"--max-wait", "0"}, node.Submission{}, 0},
		{"--max-wait 30s", []string{"--max-wait", "30s"}, node.Submission{MaxWait: 30 * time.Second}, 30 * time.Second},
		{"the spec file's max_wait", nil, node.Submission{MaxWait: time.Minute}, time.Minute},
		{"a deadline: no bound", nil, node.Submission{Deadline: time.Now().Add(time.Minute)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newSubmit()
			if err := cmd.Flags().Parse(tt.flags); err != nil {
				t.Fatal(err)
			}
			if got := batchMaxWait(cmd.Flags(), tt.sub); got != tt.want {
				t.Fatalf("max wait %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSimBurstLists(t *testing.T) {
	tests := []struct {
		in        string
		floats    []float64
		durations []time.Duration
		floatErr  bool
		durErr    bool
	}{
		{"", nil, nil, false, false},
		{"1, 2", []float64{1, 2}, nil, false, true},
		{"2m,5s", nil, []time.Duration{2 * time.Minute, 5 * time.Second}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := floatList(tt.in)
			if (err != nil) != tt.floatErr || !tt.floatErr && !slices.Equal(f, tt.floats) {
				t.Fatalf("floatList(%q) = %v, %v", tt.in, f, err)
			}
			d, err := durationList(tt.in)
			if (err != nil) != tt.durErr || !tt.durErr && !slices.Equal(d, tt.durations) {
				t.Fatalf("durationList(%q) = %v, %v", tt.in, d, err)
			}
		})
	}
}
