package client

import (
	"errors"
	"fmt"
	"github.com/computemesh/computemesh/award"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// TestObserveClassifiesByType checks that a job record takes how an
// attempt ended, and a decline's or rejection's code, from the events'
// typed fields: the messages are words for people, and a message that
// reads like another verdict changes nothing.
func TestObserveClassifiesByType(t *testing.T) {
	t.Parallel()
	const prov = "12D3KooWProviderAAAAAAAAAAAA"
	declined := fmt.Errorf("%w: busy", award.ErrDeclined)
	tests := []struct {
		name    string
		event   job.Event
		closing bool
		want    job.Verdict // the attempt's result
		wantErr string      // the attempt's error
	}{
		{"declined failover", job.Event{Kind: job.EventFailover, Verdict: attemptVerdict(declined), Message: declined.Error()},
			false, job.VerdictDeclined, declined.Error()},
		{"failed failover", job.Event{Kind: job.EventFailover, Verdict: attemptVerdict(errors.New("stream reset")), Message: "stream reset"},
			false, job.VerdictFailed, "stream reset"},
		{"a message that reads declined is not a decline", job.Event{Kind: job.EventFailover, Verdict: job.VerdictFailed, Message: "declined: not really"},
			false, job.VerdictFailed, "declined: not really"},
		{"failover without a verdict", job.Event{Kind: job.EventFailover, Message: "declined"},
			false, job.VerdictFailed, "declined"},
		{"failover while closing", job.Event{Kind: job.EventFailover, Verdict: job.VerdictDeclined, Message: "x"},
			true, job.VerdictInterrupted, errInterrupted + " (x)"},
		{"majority replica", job.Event{Kind: job.EventReplica, Verdict: job.VerdictMajority, Message: "minority: looks wrong", Price: 7},
			false, job.VerdictMajority, ""},
		{"minority replica", job.Event{Kind: job.EventReplica, Verdict: job.VerdictMinority, Message: "majority: looks wrong", Price: 7},
			false, job.VerdictMinority, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := time.UnixMilli(1_700_000_000_000)
			r := &api.JobRecord{State: api.JobSubmitted}
			applyEvent(r, job.Event{Kind: job.EventCandidates, Count: 1}, at, false)
			applyEvent(r, job.Event{Kind: job.EventWinner, Provider: prov}, at, false)
			e := tt.event
			e.Provider = prov
			applyEvent(r, e, at.Add(time.Second), tt.closing)
			a := r.Attempts[len(r.Attempts)-1]
			if a.Result != tt.want || a.Error != tt.wantErr || a.End.IsZero() {
				t.Fatalf("attempt ended %q (%q) at %v, want %q (%q)", a.Result, a.Error, a.End, tt.want, tt.wantErr)
			}
			if e.Kind == job.EventReplica && a.Charge != 7 {
				t.Fatalf("replica charge %v, want 7", a.Charge)
			}
		})
	}
}

// TestObserveKeepsCodes: a decline's reason code and a rejection's check
// code reach the record from the events' typed fields.
func TestObserveKeepsCodes(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1_700_000_000_000)
	r := &api.JobRecord{State: api.JobSubmitted}
	applyEvent(r, job.Event{Kind: job.EventCandidates, Count: 2}, at, false)
	applyEvent(r, job.Event{Kind: job.EventDecline, Provider: "a", Decline: job.DeclineBusy, Message: "busy: full"}, at, false)
	applyEvent(r, job.Event{Kind: job.EventRejected, Provider: "b", Reject: job.RejectMaxPrice, Message: "price 2 is over the max price 1"}, at, false)
	rd := lastRound(r)
	if r.State != api.JobAuction || len(rd.Answers) != 1 || len(rd.Rejected) != 1 {
		t.Fatalf("state %s, round %+v", r.State, rd)
	}
	if b := rd.Answers[0]; b.Code != job.DeclineBusy || b.Decline != "busy: full" {
		t.Fatalf("decline recorded as %+v", b)
	}
	if rj := rd.Rejected[0]; rj.Code != job.RejectMaxPrice || rj.Reason == "" {
		t.Fatalf("rejection recorded as %+v", rj)
	}
}

// TestOldRecordLoads: a record written before states, verdicts and codes
// were typed (no code fields) still loads, with the same values.
func TestOldRecordLoads(t *testing.T) {
	t.Parallel()
	const old = `{
 "v": 1, "id": "bafkreiold0000000000", "nonce": "AQI=", "spec": {"name": "hello.wasm"},
 "state": "completed", "submitted": "2024-05-01T10:00:00Z", "updated": "2024-05-01T10:00:09Z",
 "finished": "2024-05-01T10:00:09Z",
 "rounds": [{"started": "2024-05-01T10:00:00Z", "candidates": 3,
   "answers": [{"provider": "p1", "decline": "busy: 4 jobs running"}, {"provider": "p2", "price_nano": 5}],
   "rejected": [{"provider": "p1", "reason": "declined: busy (4 jobs running)"}], "awarded": ["p2", "p3"]}],
 "attempted": 2,
 "attempts": [
  {"n": 1, "provider": "p2", "start": "2024-05-01T10:00:01Z", "end": "2024-05-01T10:00:02Z", "result": "declined", "error": "declined: busy"},
  {"n": 2, "provider": "p3", "start": "2024-05-01T10:00:02Z", "end": "2024-05-01T10:00:09Z", "result": "completed"}],
 "outcome": {"job": "bafkreiold0000000000", "state": "completed", "price_nano": 5, "charge_nano": 4, "bids": 1,
  "declines": 1, "candidates": 3, "attempts": 2, "exit_code": 0, "timings_ms": {}}
}`
	r, err := decodeRecord([]byte(old))
	if err != nil {
		t.Fatalf("decoding an old record: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"state", r.State, job.StateCompleted},
		{"outcome state", r.Outcome.State, job.StateCompleted},
		{"declined attempt", r.Attempts[0].Result, job.VerdictDeclined},
		{"completed attempt", r.Attempts[1].Result, job.VerdictOf(job.StateCompleted)},
		{"decline message", r.Rounds[0].Answers[0].Decline, "busy: 4 jobs running"},
		{"no decline code", r.Rounds[0].Answers[0].Code, job.DeclineReason("")},
		{"no rejection code", r.Rounds[0].Rejected[0].Code, job.RejectReason("")},
		{"summary state", r.Summary().State, job.StateCompleted},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}
