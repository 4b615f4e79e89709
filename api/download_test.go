package api_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/api"
)

// hostileBackend lists a directory whose entries are what a hostile node
// could answer.
type hostileBackend struct {
	fakeBackend
	names []string
}

func (b *hostileBackend) Content(_ context.Context, _, p string) (*api.Content, error) {
	if p != "" {
		return &api.Content{File: nopSeeker{strings.NewReader("pwned")}}, nil
	}
	l := &api.ContentListing{CID: "bafkq"}
	for _, n := range b.names {
		l.Entries = append(l.Entries, api.ContentEntry{Name: n, CID: "bafkq", Type: api.EntryFile, Size: 5})
	}
	return &api.Content{Listing: l}, nil
}

type nopSeeker struct{ *strings.Reader }

func (nopSeeker) Close() error { return nil }

var _ io.ReadSeekCloser = nopSeeker{}

// Download writes beneath its target alone, whatever names the node lists,
// and never over an existing path.
func TestDownloadRefusesHostileNames(t *testing.T) {
	for _, name := range []string{"../escaped", "/abs", `..\escaped`, "..", ".", "", "a\x00b"} {
		dir := t.TempDir()
		srv, err := api.Listen("127.0.0.1:0", dir, &hostileBackend{names: []string{"ok.txt", name}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := api.Dial(dir)
		if err != nil {
			t.Fatal(err)
		}
		parent := t.TempDir()
		target := filepath.Join(parent, "out")
		if err := c.Download(t.Context(), "bafkq", target); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("a listing with %q: %v, want it refused", name, err)
		}
		ents, _ := os.ReadDir(parent)
		if len(ents) != 1 || ents[0].Name() != "out" {
			t.Errorf("a listing with %q wrote %v beside the target", name, ents)
		}
		srv.Close()
	}
	dir := t.TempDir()
	srv, err := api.Listen("127.0.0.1:0", dir, &hostileBackend{names: []string{"ok.txt"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := api.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "out")
	if err := c.Download(t.Context(), "bafkq", target); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "ok.txt")); err != nil || string(b) != "pwned" {
		t.Fatalf("ok.txt: %q, %v", b, err)
	}
	if err := c.Download(t.Context(), "bafkq", target); err == nil {
		t.Fatal("a download over an existing directory went ahead")
	}
}
