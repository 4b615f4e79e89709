package sim

import (
	"slices"
	"testing"
	"time"
)

func TestLoop(t *testing.T) {
	type sched struct {
		at   time.Duration
		name string
	}
	tests := []struct {
		name  string
		plan  []sched
		until time.Duration
		want  []string
		left  int
	}{
		{name: "in time order", plan: []sched{{3, "c"}, {1, "a"}, {2, "b"}}, want: []string{"a", "b", "c"}},
		{name: "ties in scheduling order", plan: []sched{{5, "x"}, {5, "y"}, {1, "w"}, {5, "z"}}, want: []string{"w", "x", "y", "z"}},
		{name: "until stops before later events", plan: []sched{{1, "a"}, {10, "b"}, {20, "c"}}, until: 10, want: []string{"a", "b"}, left: 1},
		{name: "empty", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Loop
			var got []string
			for _, s := range tt.plan {
				l.At(s.at, func() { got = append(got, s.name) })
			}
			l.Run(tt.until)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ran %v, want %v", got, tt.want)
			}
			if l.Pending() != tt.left {
				t.Fatalf("%d events left, want %d", l.Pending(), tt.left)
			}
		})
	}
}

func TestLoopSchedulesFromEvents(t *testing.T) {
	var l Loop
	var got []time.Duration
	ticks := 0
	var tick func()
	tick = func() {
		got = append(got, l.Now())
		if ticks++; ticks < 4 {
			l.After(time.Second, tick)
		}
	}
	l.At(time.Second, tick)
	l.At(2500*time.Millisecond, func() {
		l.At(0, func() { got = append(got, -l.Now()) }) // the past runs now, after what is due now
	})
	if n := l.Run(0); n != 6 {
		t.Fatalf("ran %d events, want 6", n)
	}
	want := []time.Duration{time.Second, 2 * time.Second, -2500 * time.Millisecond, 3 * time.Second, 4 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
