package main

import (
	"context"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// --input NAME=URL[#cid=CID]: the URL without its fragment, the CID from
// it; a fragment that is not a CID is refused, naming the input.
// --input NAME=ipfs://CID: an input from IPFS.
func TestURLInputFlag(t *testing.T) {
	c := job.ModuleCID([]byte("data")).String()
	for _, tc := range []struct {
		src     string
		want    job.Input
		wantErr string
	}{
		{"https://example.org/d.csv", job.Input{Name: "d", URL: "https://example.org/d.csv"}, ""},
		{"https://example.org/d.csv#cid=" + c, job.Input{Name: "d", URL: "https://example.org/d.csv", CID: c}, ""},
		{"https://example.org/d.csv#top", job.Input{}, "want #cid=CID"},
		{"https://example.org/d.csv#cid=nope", job.Input{}, "cid=nope"},
		{"ipfs://" + c, job.Input{Name: "d", CID: c, Source: job.SourceIPFS}, ""},
		{"ipfs://nope", job.Input{}, "ipfs://nope"},
	} {
		got, err := parseInputs(context.Background(), nil, nil, []string{"d=" + tc.src})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--input d") {
				t.Errorf("%s: %v, want an error naming the input and %q", tc.src, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.src, got, err, tc.want)
		}
	}
}
