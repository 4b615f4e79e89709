package client

import (
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// An auction without a feasible bid says why, with each reason's count,
// one provider's detail and what the submitter can do about it.
func TestNoBidsSaysWhatToDo(t *testing.T) {
	s := &job.Spec{Region: "eu-*", MaxPrice: job.Nano, Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}}
	declined := func(code job.DeclineReason, detail string) scheduler.Rejection {
		return scheduler.Rejection{Bid: job.Bid{Decline: code, Detail: detail}, Reason: "declined: " + string(code) + " (" + detail + ")"}
	}
	rej := []scheduler.Rejection{
		declined(job.DeclinePrice, "price 0.000000002 over max 0.000000001"),
		declined(job.DeclinePrice, "price 0.000000003 over max 0.000000001"),
		declined(job.DeclineFunds, "balance 0 below the price 0.000000002"),
		declined(job.DeclineImage, "image ghcr.io/x/y:1 is not present here"),
	}
	got := noBids(s, 5, make([]job.Bid, 4), rej)
	for _, want := range []string{
		"no bids: 5 candidates, 4 answered, 0 matched (region eu-*, max price 1, 1 cpu, 64MiB)",
		"2 declined: price (price 0.000000002 over max 0.000000001): raise --max-price",
		"1 declined: funds (balance 0 below the price 0.000000002): ", "meshnode credits",
		"1 declined: image (image ghcr.io/x/y:1 is not present here): the providers do not hold the image",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("noBids lacks %q:\n%s", want, got)
		}
	}
}
