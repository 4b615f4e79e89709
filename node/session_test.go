package node

import (
	"sync"
	"testing"

	"github.com/computemesh/computemesh/api"
)

func TestSession(t *testing.T) {
	t.Parallel()
	t.Run("zero value", func(t *testing.T) {
		var s session
		if b := s.snapshot(); b != (api.Session{}) {
			t.Fatalf("a new session = %+v, want zero", b)
		}
	})
	t.Run("sequential", func(t *testing.T) {
		var s session
		s.earn(1_500_000_000)
		s.earn(1)
		s.spend(250_000_000)
		want := api.Session{Earned: 1_500_000_001, Spent: 250_000_000, JobsRun: 2, JobsPaid: 1}
		if b := s.snapshot(); b != want {
			t.Fatalf("snapshot = %+v, want %+v", b, want)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var s session
		const workers, each = 32, 250
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					s.earn(3)
					_ = s.snapshot()
				}
			})
			wg.Go(func() {
				for range each {
					s.spend(2)
				}
			})
		}
		wg.Wait()
		want := api.Session{Earned: 3 * workers * each, Spent: 2 * workers * each, JobsRun: workers * each, JobsPaid: workers * each}
		if b := s.snapshot(); b != want {
			t.Fatalf("snapshot = %+v, want %+v", b, want)
		}
	})
}
