package job_test

import (
	"math"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

func TestParseCredits(t *testing.T) {
	tests := []struct {
		in      string
		want    job.Credits
		wantErr string // substring of the error; "" means success
	}{
		{in: "0", want: 0},
		{in: "1", want: job.Nano},
		{in: "1.5", want: 1_500_000_000},
		{in: "0.002", want: 2_000_000},
		{in: "0.000000001", want: 1},
		{in: "0.123456789", want: 123_456_789},
		{in: ".5", want: 500_000_000},
		{in: "5.", want: 5 * job.Nano},
		{in: "  2.25\t", want: 2_250_000_000},
		{in: "007", want: 7 * job.Nano},
		{in: "9223372036", want: 9_223_372_036 * job.Nano},
		{in: "9223372036.854775807", want: math.MaxInt64},

		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: ".", wantErr: "invalid amount"},
		{in: "0.0000000001", wantErr: "more than 9 decimals"},
		{in: "1.1234567890", wantErr: "more than 9 decimals"},
		{in: "-1", wantErr: "only digits"},
		{in: "+1", wantErr: "only digits"},
		{in: "-0.5", wantErr: "only digits"},
		{in: "1e3", wantErr: "only digits"},
		{in: "abc", wantErr: "only digits"},
		{in: "1.2.3", wantErr: "only digits"},
		{in: "1,5", wantErr: "only digits"},
		{in: "0x10", wantErr: "only digits"},
		{in: "1 000", wantErr: "only digits"},
		{in: "١", wantErr: "only digits"}, // Arabic-Indic digit one
		{in: "9223372037", wantErr: "too large"},
		{in: "99999999999999999999999", wantErr: "too large"},
		// 9223372036 whole credits plus a fraction above 0.854775807 does not
		// fit an int64 of nano-credits: it must be refused, not wrap negative.
		{in: "9223372036.854775808", wantErr: "too large"},
		{in: "9223372036.9", wantErr: "too large"},
		{in: "9223372036.999999999", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := job.ParseCredits(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseCredits(%q) = %d (%s), want an error containing %q", tt.in, int64(got), got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCredits(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCredits(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseCredits(%q) = %d, want %d", tt.in, int64(got), int64(tt.want))
			}
		})
	}
}

func TestCreditsString(t *testing.T) {
	tests := []struct {
		in   job.Credits
		want string
	}{
		{0, "0"},
		{1, "0.000000001"},
		{10, "0.00000001"},
		{job.Nano, "1"},
		{1_500_000_000, "1.5"},
		{416_667, "0.000416667"},
		{2_000_000, "0.002"},
		{100 * job.Nano, "100"},
		{-1_500_000_000, "-1.5"},
		{-1, "-0.000000001"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("Credits(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
		})
	}
}

func TestCreditsFloat(t *testing.T) {
	tests := []struct {
		in   job.Credits
		want float64
	}{
		{0, 0},
		{job.Nano, 1},
		{1_500_000_000, 1.5},
		{-250_000_000, -0.25},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			if got := tt.in.Float(); got != tt.want {
				t.Fatalf("Float() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreditsRoundTrip(t *testing.T) {
	for _, c := range []job.Credits{
		0, 1, 9, 10, 999_999_999, job.Nano, job.Nano + 1, 1_500_000_000,
		123_456_789_012, math.MaxInt64 - 1, math.MaxInt64,
	} {
		t.Run(c.String(), func(t *testing.T) {
			got, err := job.ParseCredits(c.String())
			if err != nil {
				t.Fatalf("ParseCredits(%q): %v", c.String(), err)
			}
			if got != c {
				t.Fatalf("ParseCredits(%q) = %d, want %d", c.String(), int64(got), int64(c))
			}
		})
	}
}

// FuzzParseCredits checks that ParseCredits never panics, never yields a
// negative amount, and that what it accepts formats back to an equivalent
// string (String then ParseCredits is the identity).
func FuzzParseCredits(f *testing.F) {
	for _, s := range []string{
		"0", "1", "1.5", ".5", "5.", "0.000000001", "0.0000000001", "-1", "+1",
		"1e3", "", " 3 ", "9223372036", "9223372036.854775807",
		"9223372036.854775808", "9223372036.999999999", "18446744073709551616",
		"1.2.3", "abc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := job.ParseCredits(s)
		if err != nil {
			return
		}
		if c < 0 {
			t.Fatalf("ParseCredits(%q) = %d: negative amount accepted", s, int64(c))
		}
		str := c.String()
		back, err := job.ParseCredits(str)
		if err != nil {
			t.Fatalf("ParseCredits(%q) = %d, but ParseCredits(String()=%q): %v", s, int64(c), str, err)
		}
		if back != c {
			t.Fatalf("round trip of %q: %d -> %q -> %d", s, int64(c), str, int64(back))
		}
	})
}
