package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

func TestPutGetVerify(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Put([]byte("hello"), cid.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if c != job.ModuleCID([]byte("hello")) {
		t.Fatalf("CID %s, want the raw sha2-256 CID", c)
	}
	b, err := s.Get(c)
	if err != nil || string(b) != "hello" {
		t.Fatalf("Get: %q, %v", b, err)
	}
	// A blob altered on disk is refused, not served.
	if err := os.WriteFile(filepath.Join(s.Dir(), c.String()), []byte("hellO"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(c); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("Get of a tampered blob: %v, want a mismatch", err)
	}
	if _, err := s.Get(job.ModuleCID([]byte("absent"))); err == nil || !strings.Contains(err.Error(), "not in the store") {
		t.Fatalf("Get of an absent blob: %v", err)
	}
	if _, err := s.Put(make([]byte, MaxBlob+1), cid.Raw); err == nil {
		t.Fatal("Put over the limit succeeded")
	}
}

func TestAddDirManifestExport(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "sub/deeper/c.bin": "\x00\x01"}
	for p, content := range files {
		full := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, m, err := s.AddDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type() != job.CodecJSON || len(m.Entries) != 3 {
		t.Fatalf("manifest %s with %d entries", c, len(m.Entries))
	}
	again, _, err := s.AddDir(src)
	if err != nil || again != c {
		t.Fatalf("adding the same tree again: %s, %v; want the same CID %s", again, err, c)
	}
	got, err := s.Manifest(c)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := s.Export(got, out); err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(p)))
		if err != nil || string(b) != content {
			t.Errorf("%s: %q, %v; want %q", p, b, err, content)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddDir(src); !errors.Is(err, ErrNotCollectable) || !strings.Contains(err.Error(), "link: a symbolic link") {
		t.Fatalf("a tree with a symlink: %v, want a refusal", err)
	}
}

func TestManifestValidate(t *testing.T) {
	good := job.ModuleCID([]byte("x")).String()
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"ok", []Entry{{"a", good, 1}, {"b/c", good, 1}}, ""},
		{"parent", []Entry{{"../etc/passwd", good, 1}}, "'..'"},
		{"absolute", []Entry{{"/etc/passwd", good, 1}}, "not a relative"},
		{"dot", []Entry{{"a/./b", good, 1}}, "'.'"},
		{"empty element", []Entry{{"a//b", good, 1}}, "empty"},
		{"bad cid", []Entry{{"a", "nope", 1}}, "entries[0].cid"},
		{"unsorted", []Entry{{"b", good, 1}, {"a", good, 1}}, "not sorted"},
		{"duplicate", []Entry{{"a", good, 1}, {"a", good, 1}}, "duplicate"},
		{"negative size", []Entry{{"a", good, -1}}, "size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Manifest{V: job.Version, Entries: tt.entries}
			err := m.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzManifestDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"entries":[{"path":"a","cid":"bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e","size":1}]}`))
	f.Add([]byte(`{"v":1,"entries":[{"path":"../x","cid":"x","size":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Manifest
		if err := job.Decode(b, MaxManifest, &m); err != nil {
			return
		}
		for _, e := range m.Entries {
			if CheckPath(e.Path) != nil || strings.Contains(e.Path, "..") && strings.Contains("/"+e.Path+"/", "/../") {
				t.Fatalf("accepted path %q", e.Path)
			}
		}
	})
}

// A block whose file a crash left short (written unsynced, renamed, cut
// off) is written again when stored again, not taken as stored.
func TestPutBlockReplacesShortFile(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("a block of some bytes")
	c := job.ModuleCID(b)
	if err := s.PutBlock(c, b); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(s.Dir(), c.String()), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlock(c, b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(c); err != nil || string(got) != string(b) {
		t.Fatalf("after storing it again: %q, %v", got, err)
	}
}
