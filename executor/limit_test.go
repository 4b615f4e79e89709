package executor

import (
	"strings"
	"testing"
)

func TestCappedWriter(t *testing.T) {
	tests := []struct {
		name          string
		limit         int
		writes        []string
		wantKept      string
		wantTruncated bool
		wantSeen      bool
	}{
		{"under the cap", 10, []string{"abc", "def"}, "abcdef", false, false},
		{"at the cap", 6, []string{"abc", "def"}, "abcdef", false, false},
		{"over the cap", 4, []string{"abc", "def"}, "abcd", true, false},
		{"zero cap", 0, []string{"abc"}, "", true, false},
		{"marker in one write", 100, []string{"fatal error: out of memory\n"}, "fatal error: out of memory\n", false, true},
		{"marker split across writes", 100, []string{"fatal error: out of", " mem", "ory"}, "fatal error: out of memory", false, true},
		{"marker in tiny writes", 100, strings.Split("xx out of memory", ""), "xx out of memory", false, true},
		{"marker after the cap", 5, []string{strings.Repeat("x", 50), "memory allocation of 10 bytes failed"},
			"xxxxx", true, true},
		{"no marker", 100, []string{"out of mem", "x", "ory"}, "out of memxory", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCappedWriter(tt.limit, oomMarkerGo, oomMarkerRust)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if string(w.Bytes()) != tt.wantKept || w.Truncated() != tt.wantTruncated || w.Seen() != tt.wantSeen {
				t.Errorf("kept %q, truncated %v, seen %v; want %q, %v, %v",
					w.Bytes(), w.Truncated(), w.Seen(), tt.wantKept, tt.wantTruncated, tt.wantSeen)
			}
		})
	}
}
