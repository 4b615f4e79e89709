package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
)

func TestReputationScoreAndPersistence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newReputations(dir, testLog())
	if _, ok := r.Score("p"); ok {
		t.Fatal("a provider never seen has a score")
	}
	tests := []struct {
		name string
		f    func(*api.Reputation)
		want float64
	}{
		{"one completed", func(x *api.Reputation) { x.Completed++ }, 2.0 / 3},
		{"then a failure", func(x *api.Reputation) { x.Failed++ }, 2.0 / 5},
		{"then a mismatch", func(x *api.Reputation) { x.Mismatches++ }, 2.0 / 8},
		{"then a challenge passed", func(x *api.Reputation) { x.ChallengePass++ }, 3.0 / 9},
	}
	for _, tt := range tests {
		r.update("p", tt.f)
		if got, ok := r.Score("p"); !ok || got != tt.want {
			t.Fatalf("%s: score %v (%v), want %v", tt.name, got, ok, tt.want)
		}
	}
	r.started("p", 10*time.Millisecond)
	r.started("p", 30*time.Millisecond)
	if err := r.save(); err != nil {
		t.Fatal(err)
	}
	again := newReputations(dir, testLog())
	list := again.list()
	if len(list) != 1 || list[0].Completed != 1 || list[0].Failed != 1 || list[0].Mismatches != 1 || list[0].MeanStartMS != 20 {
		t.Fatalf("after a restart: %+v", list)
	}

	// A corrupt file is reported and ignored, not fatal.
	if err := os.WriteFile(filepath.Join(dir, reputationFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := newReputations(dir, testLog()).list(); len(got) != 0 {
		t.Fatalf("from a corrupt file: %+v", got)
	}
}
