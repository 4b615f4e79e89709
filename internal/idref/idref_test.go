package idref

import (
	"errors"
	"strings"
	"testing"
)

const (
	job1  = "bagaaiera6zg4ytgawvrxut2gnoklhk5vw36yetyholkkyrfmpodfvrg3v6na"
	job2  = "bagaaierat54vj3davl4ji3lmyjjz3ui4q2pwp3de6excmyugytks7gbwfqgq"
	job3  = "bagaaiera6zg4zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzq"
	peer1 = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	peer2 = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
)

func TestShort(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{job1, "6zg4ytgawvrx"},
		{peer1, "QYhTNQdmr3Ar"},
		{"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "gh2akiscaild"},
		{"short", "short"},
		{"12D3KooWabc", "12D3KooWabc"}, // nothing to shorten
	} {
		if got := Short(tc.id); got != tc.want {
			t.Errorf("Short(%s) = %q, want %q", tc.id, got, tc.want)
		}
	}
	for _, id := range []string{job1, peer1} {
		for _, c := range Short(id) {
			if c > 127 {
				t.Fatalf("Short(%s) = %q: not plain ASCII", id, Short(id))
			}
		}
	}
}

func TestResolve(t *testing.T) {
	ids := []string{job1, job2, job3, peer1, peer2}
	for _, tc := range []struct {
		ref, want string
		err       error
		says      string
	}{
		{ref: job1, want: job1},
		{ref: "  " + job2 + "\n", want: job2},
		{ref: Short(job1), want: job1},
		{ref: Short(job2), want: job2},
		{ref: "t54v", want: job2},             // a prefix of the distinctive part
		{ref: "bagaaierat5", want: job2},      // a prefix of the whole ID
		{ref: "bagaai…fvrg3v6na", want: job1}, // the older short form
		{ref: "bagaai...wfqgq", want: job2},   // in ASCII
		{ref: "6zg4yt..v6na", want: job1},     // distinctive prefix, suffix
		{ref: Short(peer1), want: peer1},      // a peer's short form
		{ref: "JWoa", want: peer2},            //
		{ref: "6zg4", err: ErrAmbiguous, says: "2 job IDs"},
		{ref: "bagaai", err: ErrAmbiguous, says: "3 job IDs"},
		{ref: "nothing", err: ErrNoMatch, says: `matches "nothing"`},
		{ref: "", err: ErrNoMatch, says: "empty job ID"},
		{ref: "<job ID>", err: ErrNoMatch, says: "placeholder"},
		{ref: "bagaai…zzzz", err: ErrNoMatch},
	} {
		got, err := Resolve(tc.ref, ids, "job")
		if tc.err != nil {
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Resolve(%q) = %q, %v; want %v saying %q", tc.ref, got, err, tc.err, tc.says)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
}

// The ambiguous error lists a few matches and counts the rest.
func TestResolveListsAFew(t *testing.T) {
	var ids []string
	for _, c := range "abcdefgh" {
		ids = append(ids, "bagaaiera"+string(c)+strings.Repeat("q", 50))
	}
	_, err := Resolve("bagaai", ids, "job")
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "and 3 more") {
		t.Fatalf("err %v: want ambiguous, 5 listed and 3 more", err)
	}
}

// FuzzResolve: whatever the reference, Resolve never panics, returns one
// of the IDs or an error, and the whole ID always resolves to itself.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{job1, "6zg4", "bagaai…v6na", "..", "…", "<x>", ""} {
		f.Add(s)
	}
	ids := []string{job1, job2, job3, peer1, peer2}
	f.Fuzz(func(t *testing.T, ref string) {
		got, err := Resolve(ref, ids, "job")
		if err == nil {
			found := false
			for _, id := range ids {
				found = found || id == got
			}
			if !found {
				t.Fatalf("Resolve(%q) = %q: not one of the IDs", ref, got)
			}
		}
		for _, id := range ids {
			if got, err := Resolve(id, append(ids, ref), "job"); err != nil || got != id {
				t.Fatalf("Resolve(%q) with %q among the IDs = %q, %v", id, ref, got, err)
			}
		}
	})
}
