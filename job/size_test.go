package job_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "4096", want: 4096},
		{in: "10B", want: 10},
		{in: "1K", want: 1 << 10},
		{in: "1KiB", want: 1 << 10},
		{in: "1KB", want: 1000},
		{in: "2M", want: 2 << 20},
		{in: "64MiB", want: 64 << 20},
		{in: "64MB", want: 64_000_000},
		{in: "8G", want: 8 << 30},
		{in: "8GiB", want: 8 << 30},
		{in: "1.5GB", want: 1_500_000_000},
		{in: "1.5GiB", want: 3 << 29},
		{in: "1T", want: 1 << 40},
		{in: "1TiB", want: 1 << 40},
		{in: "2TB", want: 2_000_000_000_000},
		{in: " 64 MiB ", want: 64 << 20},
		{in: "0.5B", want: 1},   // rounded up to whole bytes
		{in: "1.5", want: 2},    // rounded up to whole bytes
		{in: "1e3", want: 1000}, // exponents are numbers too
		{in: "0.5KiB", want: 512},

		{in: "", wantErr: "empty size"},
		{in: "  ", wantErr: "empty size"},
		{in: "MiB", wantErr: "invalid size"},
		{in: "abc", wantErr: "invalid size"},
		{in: "64mib", wantErr: "invalid size"},
		{in: "64 Mi", wantErr: "invalid size"},
		{in: "-1", wantErr: "invalid size"},
		{in: "-1MiB", wantErr: "invalid size"},
		{in: "NaN", wantErr: "invalid size"},
		{in: "Inf", wantErr: "invalid size"},
		{in: "+InfGiB", wantErr: "invalid size"},
		{in: "1PiB", want: 1 << 50},
		{in: "8388608TiB", wantErr: "too large"}, // 2^63 bytes
		{in: "1e30", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := job.ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSize(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   uint64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1536, "1.5KiB"},
		{10 << 10, "10KiB"},
		{100 << 10, "100KiB"},
		{1_234_567, "1.18MiB"},
		{64 << 20, "64MiB"},
		{3 << 29, "1.5GiB"},
		{1 << 40, "1TiB"},
		{1 << 50, "1PiB"},
		{1 << 60, "1024PiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := job.FormatSize(tt.in); got != tt.want {
				t.Fatalf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatSizeParsesBack(t *testing.T) {
	for _, n := range []uint64{0, 1, 512, 1024, 64 << 20, 3 << 29, 13 << 28, 1 << 40} {
		s := job.FormatSize(n)
		t.Run(s, func(t *testing.T) {
			got, err := job.ParseSize(s)
			if err != nil {
				t.Fatalf("ParseSize(FormatSize(%d) = %q): %v", n, s, err)
			}
			if got != n {
				t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d", n, s, got)
			}
		})
	}
}

func TestParseCPUs(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1", want: 1000},
		{in: "0.5", want: 500},
		{in: "2.25", want: 2250},
		{in: " 4 ", want: 4000},
		{in: "0.001", want: 1},
		{in: "1024", want: 1024_000},
		{in: "1e1", want: 10_000},

		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1025", wantErr: true},
		{in: "many", wantErr: true},
		{in: "1 core", wantErr: true},
		{in: "Inf", wantErr: true},
		// Below a thousandth of a core the amount rounds to 0 millicores,
		// which File.Spec would silently turn into the default of one core.
		{in: "0.0001", wantErr: true},
		{in: "0.0004", wantErr: true},
		// NaN compares false with every bound; it must still be refused.
		{in: "NaN", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := job.ParseCPUs(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseCPUs(%q) = %d, want an error", tt.in, got)
				}
				if !strings.Contains(err.Error(), "invalid number of cpus") {
					t.Fatalf("ParseCPUs(%q) error = %q, want it to say %q", tt.in, err, "invalid number of cpus")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCPUs(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseCPUs(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseSize checks that ParseSize never panics, stays under its own
// "too large" bound, reads plain integers exactly, and that FormatSize of a
// parsed size parses back to within FormatSize's two-decimal rounding.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{
		"0", "4096", "64MiB", "8GiB", "1.5GB", "1K", "2 M", "0.5B", "1e3",
		"-1", "NaN", "Inf", "1PiB", "8388608TiB", "1e30", "", "MiB", "0x10KiB",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := job.ParseSize(s)
		if err != nil {
			return
		}
		if n >= 1<<63 {
			t.Fatalf("ParseSize(%q) = %d, over the too-large bound", s, n)
		}
		if v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err == nil && v < 1<<53 && v != n {
			t.Fatalf("ParseSize(%q) = %d, want %d", s, n, v)
		}
		if n >= 1<<50 {
			return // FormatSize uses PiB there, which ParseSize does not read
		}
		fs := job.FormatSize(n)
		back, err := job.ParseSize(fs)
		if err != nil {
			t.Fatalf("ParseSize(FormatSize(%d) = %q): %v", n, fs, err)
		}
		diff := back - n
		if n > back {
			diff = n - back
		}
		if diff > n/200+1 {
			t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d: off by %d", n, fs, back, diff)
		}
	})
}

// A job's memory, GPU memory or disk given as a bare number below 1 MiB is
// a missing unit: refused, naming what was probably meant.
func TestParseResourceSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"64MiB", 64 << 20, ""},
		{"512KiB", 512 << 10, ""}, // a unit: taken as given
		{"1048576", 1 << 20, ""},  // bytes, but enough of them
		{"0", 0, ""},              // unset: the default applies
		{"64", 0, `"64" has no unit, so it means 64 bytes: give one (e.g. 64MiB or 64GiB)`},
		{" 1.5 ", 0, "has no unit"},
		{"sixty", 0, "invalid size"},
	} {
		got, err := job.ParseResourceSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseResourceSize(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseResourceSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
