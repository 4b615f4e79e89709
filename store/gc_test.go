package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

func TestPlan(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	blobs := []Blob{
		{CID: "old", Size: 100, Used: ago(30 * 24 * time.Hour)},
		{CID: "pinned-old", Size: 100, Used: ago(30 * 24 * time.Hour)},
		{CID: "day", Size: 300, Used: ago(24 * time.Hour)},
		{CID: "hour", Size: 200, Used: ago(time.Hour)},
		{CID: "outputs", Size: 50, Used: ago(time.Hour)},
		{CID: "fresh", Size: 1000, Used: ago(time.Minute)},
	}
	keep := func(c string) bool { return c == "pinned-old" }
	expired := func(c string) bool { return c == "outputs" }
	none := func(string) bool { return false }
	type drop struct {
		cid    string
		reason DropReason
	}
	tests := []struct {
		name    string
		r       Retention
		keep    func(string) bool
		expired func(string) bool
		want    []drop
	}{
		{name: "no limits keeps all but expired", keep: keep, expired: expired,
			want: []drop{{"outputs", DropExpired}}},
		{name: "age", r: Retention{MaxAge: 7 * 24 * time.Hour, MinAge: 10 * time.Minute}, keep: keep, expired: none,
			want: []drop{{"old", DropAge}}},
		{name: "size drops least recently used first", r: Retention{MaxBytes: 1500, MinAge: 10 * time.Minute}, keep: keep, expired: none,
			// 1750 in all: "old" (100) and "day" (300) bring it to 1350.
			want: []drop{{"old", DropSize}, {"day", DropSize}}},
		{name: "age then size", r: Retention{MaxBytes: 1400, MaxAge: 7 * 24 * time.Hour, MinAge: 10 * time.Minute}, keep: keep, expired: expired,
			want: []drop{{"old", DropAge}, {"outputs", DropExpired}, {"day", DropSize}}},
		{name: "nothing recent or protected goes, even over the cap", r: Retention{MaxBytes: 1, MinAge: 10 * time.Minute},
			keep: keep, expired: none,
			want: []drop{{"old", DropSize}, {"day", DropSize}, {"hour", DropSize}, {"outputs", DropSize}}},
		{name: "min age protects expired", r: Retention{MinAge: 2 * time.Hour}, keep: keep, expired: expired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []drop
			for _, d := range Plan(blobs, tc.keep, tc.expired, tc.r, now) {
				got = append(got, drop{d.CID, d.Reason})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("dropped %v, want %v", got, tc.want)
			}
		})
	}
}

// Collect drops unprotected old blobs, keeps pinned trees and what was used
// since, removes stale temporary files, and changes nothing in a dry run.
func TestCollect(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(b string, codec uint64) cid.Cid {
		c, err := s.Put([]byte(b), codec)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	age := func(c cid.Cid, d time.Duration) {
		old := time.Now().Add(-d)
		if err := os.Chtimes(filepath.Join(s.Dir(), c.String()), old, old); err != nil {
			t.Fatal(err)
		}
	}
	entry := put("in a pinned tree", cid.Raw)
	m := &Manifest{V: job.Version, Entries: []Entry{{Path: "a", CID: entry.String(), Size: 16}}}
	tree := put(string(job.Encode(m)), job.CodecJSON)
	if err := s.Pin(tree); err != nil {
		t.Fatal(err)
	}
	old, recent, read := put("old", cid.Raw), put("recent", cid.Raw), put("read lately", cid.Raw)
	for _, c := range []cid.Cid{entry, tree, old, read} {
		age(c, 30*24*time.Hour)
	}
	age(recent, time.Hour)
	if _, err := s.Get(read); err != nil { // a use: its age starts again
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Dir(), tmpPrefix+"interrupted")
	if err := os.WriteFile(tmp, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(tmp, stale, stale); err != nil {
		t.Fatal(err)
	}
	pins, err := s.Pins()
	if err != nil || !slices.Equal(pins, []string{tree.String()}) {
		t.Fatalf("pins %v, %v", pins, err)
	}
	keep := s.Closure(pins)
	has := func(c string) bool { return keep[c] }
	never := func(string) bool { return false }
	r := Retention{MaxAge: 7 * 24 * time.Hour, MinAge: 10 * time.Minute}

	rep, err := s.Collect(has, never, r, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Freed) != 1 || rep.Freed[0].CID != old.String() || rep.TempFiles != 1 || rep.Protected != 2 || rep.Blobs != 5 {
		t.Fatalf("dry run: %+v; want old freed, one temp file, 2 protected of 5", rep)
	}
	if !s.Has(old) {
		t.Fatal("a dry run removed a blob")
	}
	rep, err = s.Collect(has, never, r, time.Now(), false)
	if err != nil || len(rep.Freed) != 1 || rep.FreedBytes != 3 {
		t.Fatalf("collect: %+v, %v", rep, err)
	}
	for c, want := range map[cid.Cid]bool{old: false, entry: true, tree: true, recent: true, read: true} {
		if s.Has(c) != want {
			t.Errorf("%s held %v after the collection, want %v", c, !want, want)
		}
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Error("the stale temporary file is still there")
	}
	// Unpinned, the tree goes too.
	if err := s.Unpin(tree); err != nil {
		t.Fatal(err)
	}
	pins, _ = s.Pins()
	keep = s.Closure(pins)
	if rep, err = s.Collect(has, never, r, time.Now(), false); err != nil || len(rep.Freed) != 2 || s.Has(entry) || s.Has(tree) {
		t.Fatalf("after unpin: %+v, %v", rep, err)
	}
}
