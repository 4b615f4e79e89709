package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
)

// MaxBlock is the largest block PutBlock takes: the blocks of content
// DAGs (UnixFS: 256 KiB leaves, small inner nodes) and Bitswap's own limit
// (2 MiB).
const MaxBlock = 2 << 20

// key is the CID a blob is stored under: version 1, so that a CIDv0 (a
// dag-pb block named the old way) and its CIDv1 are one file.
func key(c cid.Cid) cid.Cid {
	if c.Version() == 0 {
		return cid.NewCidV1(cid.DagProtobuf, c.Hash())
	}
	return c
}

// PutBlock stores b as the block c, after checking that b hashes to c and
// is at most MaxBlock bytes. It is not durable until Sync returns: a batch
// of blocks (a file being added, a DAG being fetched) costs one sync, not
// one a block. A block a crash left incomplete is found by the check every
// read makes, and dropped.
func (s *Store) PutBlock(c cid.Cid, b []byte) error {
	if err := Verify(c, b); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.PutHashedBlock(c, b)
}

// PutHashedBlock is PutBlock for a block whose CID was derived from its
// bytes by whoever made it — an importer, a fetch that checked it, Bitswap
// — so not hashed again here (every read checks it anyway).
func (s *Store) PutHashedBlock(c cid.Cid, b []byte) error {
	if len(b) > MaxBlock {
		return fmt.Errorf("store: block %s is %d bytes, limit %d", c, len(b), MaxBlock)
	}
	p := s.path(c)
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(len(b)) {
		s.touch(c)
		return nil
	} // else written (again: a file a crash left short is replaced)
	if err := atomicfile.WriteFile(p, b, 0o600, atomicfile.TempPrefix(tmpPrefix), deferredSync()); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Sync makes every block PutBlock stored durable.
func (s *Store) Sync() error {
	if err := syncStore(s.dir); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// Remove removes the blob c; one the store does not hold is not an error.
func (s *Store) Remove(c cid.Cid) error {
	if err := os.Remove(s.path(c)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// CIDs lists the CIDs of the blobs the store holds.
func (s *Store) CIDs() ([]cid.Cid, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []cid.Cid
	for _, e := range ents {
		if c, err := cid.Decode(e.Name()); err == nil && e.Type().IsRegular() {
			out = append(out, c)
		}
	}
	return out, nil
}

// links returns the CIDs a dag-pb block links to (a UnixFS directory's
// entries, a file's chunks); none for a block of another codec or one that
// does not decode.
func links(c cid.Cid, b []byte) []cid.Cid {
	if c.Type() != cid.DagProtobuf {
		return nil
	}
	n, err := merkledag.DecodeProtobuf(b)
	if err != nil {
		return nil
	}
	out := make([]cid.Cid, 0, len(n.Links()))
	for _, l := range n.Links() {
		out = append(out, l.Cid)
	}
	return out
}

// CopyDAG copies the blob c and every blob it leads to (a DAG's blocks, a
// manifest's files: Closure) from one store to another, durably.
func CopyDAG(from, to *Store, c cid.Cid) error {
	for k := range from.Closure([]string{c.String()}) {
		id, err := cid.Decode(k)
		if err != nil {
			return err
		}
		b, err := from.Get(id)
		if err != nil {
			return err
		}
		if len(b) > MaxBlock { // a file of the earlier format
			_, err = to.Put(b, id.Type())
		} else {
			err = to.PutHashedBlock(id, b) // checked by Get
		}
		if err != nil {
			return err
		}
	}
	return to.Sync()
}
