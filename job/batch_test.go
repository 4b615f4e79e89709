package job_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// testRequests returns n requests of testClient for different jobs.
func testRequests(n int) []*job.Request {
	out := make([]*job.Request, n)
	for i := range out {
		s := testSpec()
		id := job.NewID(s, testClient, fmt.Appendf(nil, "nonce-%012d", i)).String()
		out[i] = job.NewRequest(id, testClient, s, 1_700_000_000_000)
	}
	return out
}

func encodeAll(rs []*job.Request) [][]byte {
	enc := make([][]byte, len(rs))
	for i, r := range rs {
		enc[i] = job.Encode(r)
	}
	return enc
}

func TestRequestBatchRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, 17} {
		rs := testRequests(n)
		enc := encodeAll(rs)
		msg := job.EncodeRequests(enc)
		if n == 1 && string(msg) != string(enc[0]) {
			t.Errorf("one request: got %s, want the request itself", msg)
		}
		total := 0
		for _, e := range enc {
			total += len(e)
		}
		if got := job.BatchSize(n, total); got != len(msg) {
			t.Errorf("%d requests: BatchSize %d, message %d bytes", n, got, len(msg))
		}
		got, err := job.DecodeRequests(msg, job.MaxGossipSize)
		if err != nil {
			t.Fatalf("%d requests: %v", n, err)
		}
		if !reflect.DeepEqual(got, rs) {
			t.Errorf("%d requests: decoded %+v, want %+v", n, got, rs)
		}
	}
}

func TestRequestBatchErrors(t *testing.T) {
	two := testRequests(2)
	other := *two[1]
	other.Client = "12D3KooWSomeoneElse"
	bad := *two[1]
	bad.TimeoutMS = -1
	many := testRequests(job.MaxBatchRequests + 1)
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"two clients", string(job.EncodeRequests(encodeAll([]*job.Request{two[0], &other}))), "requests[1]: client"},
		{"same job twice", string(job.EncodeRequests(encodeAll([]*job.Request{two[0], two[0]}))), "appears twice"},
		{"invalid member", string(job.EncodeRequests(encodeAll([]*job.Request{two[0], &bad}))), "requests[1]: timeout_ms"},
		{"too many", string(job.EncodeRequests(encodeAll(many))), "requests: 65, want 1 to 64"},
		{"empty", `{"v":1,"requests":[]}`, "requests: 0"},
		{"request fields beside requests", strings.Replace(string(job.EncodeRequests(encodeAll(two))), `{"v":1,`, `{"v":1,"job":"x",`, 1), "beside requests"},
		{"unknown field", `{"v":1,"requests":[],"extra":1}`, "unknown field"},
		{"trailing data", string(job.Encode(two[0])) + "{}", "trailing data"},
		{"not json", "nope", "decoding a jobs message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := job.DecodeRequests([]byte(tc.msg), 1<<20)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	msg := job.EncodeRequests(encodeAll(two))
	if _, err := job.DecodeRequests(msg, len(msg)-1); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("over the limit: got %v", err)
	}
}

// FuzzDecodeRequests checks that DecodeRequests never panics and that what
// it accepts is valid and one client's.
func FuzzDecodeRequests(f *testing.F) {
	f.Add(job.Encode(testRequests(1)[0]))
	f.Add(job.EncodeRequests(encodeAll(testRequests(3))))
	f.Add([]byte(`{"v":1,"requests":[{}]}`))
	arr := testRequests(1)[0]
	arr.Count = 500
	f.Add(job.Encode(arr))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := job.DecodeRequests(data, job.MaxGossipSize)
		if err != nil {
			return
		}
		if len(rs) == 0 || len(rs) > job.MaxBatchRequests {
			t.Fatalf("accepted %d requests", len(rs))
		}
		for _, r := range rs {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted an invalid request: %v", err)
			}
			if r.Client != rs[0].Client {
				t.Fatalf("accepted requests of two clients")
			}
		}
	})
}
