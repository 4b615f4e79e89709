package unixfs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/internal/kubofixture"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
)

func newDAG(t *testing.T) *unixfs.DAG {
	t.Helper()
	return unixfs.New(blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())))
}

// kuboCIDs are the CIDs kubo gave for the fixtures (testdata/README.md).
type kuboCIDs struct {
	Files map[string]string `json:"files"`
	Trees map[string]string `json:"trees"`
}

func loadKubo(t *testing.T) kuboCIDs {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kubo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k kuboCIDs
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

// Every fixture file gets the CID kubo gave it, and reads back as it was
// (whole, and from an offset: the reader seeks through the tree).
func TestFilesMatchKubo(t *testing.T) {
	k, d := loadKubo(t), newDAG(t)
	for name, b := range kubofixture.Files() {
		t.Run(name, func(t *testing.T) {
			c, size, err := d.AddFile(t.Context(), bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if want := k.Files[name]; c.String() != want || size != int64(len(b)) {
				t.Fatalf("%s: CID %s, size %d; kubo: %s, size %d", name, c, size, want, len(b))
			}
			if h, err := unixfs.FileCID(t.Context(), bytes.NewReader(b)); err != nil || !h.Equals(c) {
				t.Fatalf("%s: FileCID %s (%v), added as %s", name, h, err, c)
			}
			r, err := d.Open(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Size() != uint64(len(b)) {
				t.Fatalf("reader size %d, want %d", r.Size(), len(b))
			}
			off := int64(len(b) / 3)
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, b[off:]) {
				t.Fatalf("read back from %d: %d bytes (%v), want %d", off, len(got), err, len(b)-int(off))
			}
		})
	}
}

// Every fixture tree gets the CID kubo gave it (the wide one a HAMT), and
// exports to the same files.
func TestTreesMatchKubo(t *testing.T) {
	k, d := loadKubo(t), newDAG(t)
	src := t.TempDir()
	if err := kubofixture.WriteTrees(src); err != nil {
		t.Fatal(err)
	}
	for name := range kubofixture.Trees() {
		t.Run(name, func(t *testing.T) {
			c, err := d.AddTree(t.Context(), filepath.Join(src, "trees", name))
			if err != nil {
				t.Fatal(err)
			}
			if want := k.Trees[name]; c.String() != want {
				t.Fatalf("%s: CID %s; kubo: %s", name, c, want)
			}
			out := filepath.Join(t.TempDir(), name)
			if err := d.Export(t.Context(), c, out, unixfs.DefaultLimits()); err != nil {
				t.Fatal(err)
			}
			if got, want := listTree(t, out), listTree(t, filepath.Join(src, "trees", name)); got != want {
				t.Fatalf("exported:\n%.2000s\nadded:\n%.2000s", got, want)
			}
		})
	}
}

// listTree describes a tree: each path with its size and a digest.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if e.IsDir() {
			sb.WriteString(rel + "/\n")
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum(b)
		sb.WriteString(rel + " " + c.String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// A symbolic link in a tree being added is refused, named; so is one
// among a DAG's files when exported.
func TestAddTreeRefusesLinks(t *testing.T) {
	d := newDAG(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	_, err := d.AddTree(t.Context(), dir)
	if !errors.Is(err, unixfs.ErrUnsupported) || !strings.Contains(err.Error(), "passwd") {
		t.Fatalf("a tree with a symbolic link: %v, want ErrUnsupported naming it", err)
	}
}

// A hostile DAG — an entry named "..", "a/b" or holding a NUL, or a
// symbolic link — exports nothing outside its target, and fails naming
// the entry.
func TestExportRefusesHostileEntries(t *testing.T) {
	for _, name := range []string{"..", "a/b", "../escape", "x\x00y", "."} {
		t.Run(strings.ReplaceAll(name, "/", "∕"), func(t *testing.T) {
			d := newDAG(t)
			ctx := context.Background()
			leaf, _, err := d.AddFile(ctx, strings.NewReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			dir := hostileDir(t, d, map[string]cid.Cid{name: leaf})
			parent := t.TempDir()
			err = d.Export(ctx, dir, filepath.Join(parent, "out"), unixfs.DefaultLimits())
			if !errors.Is(err, unixfs.ErrUnsupported) {
				t.Fatalf("an entry named %q: %v, want ErrUnsupported", name, err)
			}
			for _, p := range []string{filepath.Join(parent, "escape"), filepath.Join(parent, "out", "a", "b")} {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s written", p)
				}
			}
		})
	}
	t.Run("symlink", func(t *testing.T) {
		d := newDAG(t)
		data, err := ufs.SymlinkData("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		link := merkledag.NodeWithData(data)
		link.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
		if err := dagOf(d).Add(t.Context(), link); err != nil {
			t.Fatal(err)
		}
		dir := hostileDir(t, d, map[string]cid.Cid{"passwd": link.Cid()})
		err = d.Export(t.Context(), dir, filepath.Join(t.TempDir(), "out"), unixfs.DefaultLimits())
		if !errors.Is(err, unixfs.ErrUnsupported) || !strings.Contains(err.Error(), "passwd") {
			t.Fatalf("a symbolic link: %v, want ErrUnsupported naming it", err)
		}
	})
}

// dagOf is a DAG service over d's blockstore.
func dagOf(d *unixfs.DAG) ipld.DAGService {
	return merkledag.NewDAGService(blockservice.New(d.Blockstore(), nil))
}

// hostileDir writes a UnixFS directory node with the given links as they
// are (no name checks: what a hostile peer could send).
func hostileDir(t *testing.T, d *unixfs.DAG, links map[string]cid.Cid) cid.Cid {
	t.Helper()
	n := ufs.EmptyDirNode()
	n.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
	svc := dagOf(d)
	for name, c := range links {
		child, err := svc.Get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.AddNodeLink(name, child); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Add(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	return n.Cid()
}
