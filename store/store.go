package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// Limits of what a store accepts.
const (
	MaxBlob     = 64 << 20 // one file
	MaxEntries  = 4096     // files in one manifest
	MaxManifest = 1 << 20  // encoded manifest
)

// ErrNotFound means the store does not hold a CID.
var ErrNotFound = errors.New("not in the store")

// Store keeps blobs under a directory. Safe for concurrent use (every write
// is an atomic rename of a complete, synced file, followed by a sync of the
// directory: package atomicfile).
type Store struct {
	dir string
}

// Open opens (creating) the store under dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(c cid.Cid) string { return filepath.Join(s.dir, key(c).String()) }

// Put stores b and returns its CID (raw codec for data; pass
// job.CodecJSON for a manifest). It returns once b is durable: the file
// and the store's directory are synced (or b was stored by an earlier Put).
func (s *Store) Put(b []byte, codec uint64) (cid.Cid, error) {
	if len(b) > MaxBlob {
		return cid.Undef, fmt.Errorf("store: blob of %d bytes exceeds the limit of %d", len(b), MaxBlob)
	}
	c := job.ModuleCID(b)
	if codec != cid.Raw {
		c = cid.NewCidV1(codec, c.Hash())
	}
	p := s.path(c)
	if _, err := os.Stat(p); err == nil {
		s.touch(c) // stored again: used now
		return c, nil
	}
	// The temporary file is named tmpPrefix*, which a collection removes
	// when a crash left it behind.
	if err := atomicfile.WriteFile(p, b, 0o600, atomicfile.TempPrefix(tmpPrefix)); err != nil {
		return cid.Undef, fmt.Errorf("store: %w", err)
	}
	return c, nil
}

// Get returns the bytes of c, verified against it, and records that c was
// used now (see Retention).
func (s *Store) Get(c cid.Cid) ([]byte, error) {
	b, err := s.read(c)
	if err == nil {
		s.touch(c)
	}
	return b, err
}

// Load returns the bytes stored as c without checking them, and records
// that c was used now: for bytes that go to a peer that checks them
// itself (the mesh's blob protocol does), which finds a damaged blob as
// surely, without hashing every block twice.
func (s *Store) Load(c cid.Cid) ([]byte, error) {
	b, err := os.ReadFile(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", c, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s.touch(c)
	return b, nil
}

// LoadInto is Load into buf when the blob fits (else into a new slice).
func (s *Store) LoadInto(c cid.Cid, buf []byte) ([]byte, error) {
	f, err := os.Open(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", c, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if fi.Size() > int64(cap(buf)) {
		buf = make([]byte, fi.Size())
	}
	b := buf[:fi.Size()]
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("store: %s: %w", c, err)
	}
	s.touch(c)
	return b, nil
}

// read is Get without recording a use.
func (s *Store) read(c cid.Cid) ([]byte, error) {
	b, err := os.ReadFile(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", c, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := Verify(c, b); err != nil {
		// Damaged (a failing disk, a write a crash cut short, a file
		// changed behind the node's back): dropped, so that it can be
		// fetched or added again, where kept it would stand in the way
		// (Has says the store holds it).
		_ = os.Remove(s.path(c))
		return nil, fmt.Errorf("store: %v: dropped: %w", err, ErrNotFound)
	}
	return b, nil
}

// Has reports whether the store holds c.
func (s *Store) Has(c cid.Cid) bool {
	_, err := os.Stat(s.path(c))
	return err == nil
}

// Size returns the size of the blob c as stored (not verified).
func (s *Store) Size(c cid.Cid) (int64, error) {
	fi, err := os.Stat(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", c, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return fi.Size(), nil
}

// Verify checks that b hashes to c's multihash.
func Verify(c cid.Cid, b []byte) error {
	got, err := c.Prefix().Sum(b)
	if err != nil {
		return fmt.Errorf("hashing for %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("bytes do not match %s (they hash to %s)", c, got)
	}
	return nil
}

// Entry is one file of a manifest.
type Entry struct {
	Path string `json:"path"` // slash-separated, relative, clean
	CID  string `json:"cid"`
	Size int64  `json:"size"`
}

// Manifest names a directory tree of blobs.
type Manifest struct {
	V       int     `json:"v"`
	Entries []Entry `json:"entries"` // sorted by path
}

// Size is the total of the sizes its entries declare.
func (m *Manifest) Size() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size // each at most MaxBlob, at most MaxEntries of them
	}
	return n
}

// Validate checks every entry's path and CID.
func (m *Manifest) Validate() error {
	if m.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", m.V, job.Version)
	}
	if len(m.Entries) > MaxEntries {
		return fmt.Errorf("entries: %d files, limit %d", len(m.Entries), MaxEntries)
	}
	for i, e := range m.Entries {
		if err := CheckPath(e.Path); err != nil {
			return fmt.Errorf("entries[%d].path: %w", i, err)
		}
		if _, err := job.ParseCID(e.CID); err != nil {
			return fmt.Errorf("entries[%d].cid: %w", i, err)
		}
		if e.Size < 0 || e.Size > MaxBlob {
			return fmt.Errorf("entries[%d].size: %d out of range", i, e.Size)
		}
		if i > 0 && m.Entries[i-1].Path >= e.Path {
			return fmt.Errorf("entries: not sorted or duplicate at %q", e.Path)
		}
	}
	return nil
}

// CheckPath refuses absolute paths, "..", empty and unclean paths: a
// manifest can only name files inside the directory it describes.
func CheckPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%q is not a relative slash-separated path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%q has an empty, '.' or '..' element", p)
		}
	}
	return nil
}

// AddFile stores one file and returns its CID and size.
func (s *Store) AddFile(path string) (cid.Cid, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("store: %w", err)
	}
	if st.Size() > MaxBlob {
		return cid.Undef, 0, fmt.Errorf("store: %s is %d bytes, limit %d", path, st.Size(), MaxBlob)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("store: %w", err)
	}
	c, err := s.Put(b, cid.Raw)
	return c, int64(len(b)), err
}

// AddDir stores every regular file under dir and a manifest naming them,
// and returns the manifest's CID. It follows no link (see WalkTree): a
// symbolic link, a special file or a file with several hard links fails it
// with ErrNotCollectable, naming the path.
func (s *Store) AddDir(dir string) (cid.Cid, *Manifest, error) {
	files, err := WalkTree(dir)
	if err == nil && len(files) > MaxEntries {
		err = fmt.Errorf("more than %d files", MaxEntries)
	}
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("store: adding %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("store: %w", err)
	}
	defer root.Close()
	m := &Manifest{V: job.Version}
	for _, f := range files {
		b, err := readTreeFile(root, f.Path)
		if err != nil {
			return cid.Undef, nil, fmt.Errorf("store: adding %s: %w", dir, err)
		}
		c, err := s.Put(b, cid.Raw)
		if err != nil {
			return cid.Undef, nil, err
		}
		m.Entries = append(m.Entries, Entry{Path: f.Path, CID: c.String(), Size: int64(len(b))})
	}
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Path < m.Entries[j].Path })
	c, err := s.Put(job.Encode(m), job.CodecJSON)
	return c, m, err
}

// Manifest reads and validates the manifest c (a use of it).
func (s *Store) Manifest(c cid.Cid) (*Manifest, error) {
	return s.manifest(c, s.Get)
}

func (s *Store) manifest(c cid.Cid, get func(cid.Cid) ([]byte, error)) (*Manifest, error) {
	if c.Type() != job.CodecJSON {
		return nil, fmt.Errorf("store: %s is not a manifest (codec 0x%x)", c, c.Type())
	}
	b, err := get(c)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := job.Decode(b, MaxManifest, &m); err != nil {
		return nil, fmt.Errorf("store: manifest %s: %w", c, err)
	}
	return &m, nil
}

// Export writes the tree of manifest m (its blobs must be in the store)
// under dir. Every path was checked, resolves beneath dir (os.Root), and is
// never written through a link: a link (or file) already at a path is
// replaced.
func (s *Store) Export(m *Manifest, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer root.Close()
	for _, e := range m.Entries {
		if err := CheckPath(e.Path); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		c, err := job.ParseCID(e.CID)
		if err != nil {
			return err
		}
		b, err := s.Get(c)
		if err != nil {
			return err
		}
		if err := writeTreeFile(root, e.Path, b, 0o644); err != nil {
			return fmt.Errorf("store: exporting %s: %w", e.Path, err)
		}
	}
	return nil
}
