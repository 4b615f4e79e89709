package executor

import (
	"io/fs"
	"math"
	"sync"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// diskQuota counts what a guest keeps in a writable mount: the bytes of its
// regular files (their sizes, not their blocks, so that a sparse file counts
// in full) and its entries (files and directories). Every change goes
// through rootFS, which holds no hard or symbolic links a guest made (it
// refuses both), so each regular file has one name and one fileNode.
type diskQuota struct {
	mu       sync.Mutex
	maxBytes int64 // 0: unbounded
	maxFiles int   // 0: unbounded
	bytes    int64
	files    int
	exceeded bool
	nodes    map[uint64]*fileNode // by inode
}

// errQuota is what a write or creation past the quota fails with. It would
// be ENOSPC, but the WASI layer of wazero v1.12 has no ENOSPC (it maps every
// errno it does not know to EIO): the guest sees EIO, and the run reports
// Result.DiskExceeded.
const errQuota = experimentalsys.EIO

// fileNode is a regular file of the mount as the quota counts it.
type fileNode struct {
	size     int64
	refs     int  // open files
	unlinked bool // removed while open: counted until the last close
}

func newDiskQuota(maxBytes uint64, maxFiles int) *diskQuota {
	q := &diskQuota{maxFiles: maxFiles, nodes: make(map[uint64]*fileNode)}
	q.maxBytes = int64(min(maxBytes, math.MaxInt64))
	return q
}

// Exceeded reports whether a write or a creation was refused (or cut short)
// for the quota.
func (q *diskQuota) Exceeded() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.exceeded
}

// usage returns the counted bytes and entries.
func (q *diskQuota) usage() (bytes int64, files int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, q.files
}

// reserveEntry counts a new file or directory, or refuses it with ENOSPC.
// Called with q.mu held.
func (q *diskQuota) reserveEntry() experimentalsys.Errno {
	if q.maxFiles > 0 && q.files >= q.maxFiles {
		q.exceeded = true
		return errQuota
	}
	q.files++
	return 0
}

// open returns the node of the regular file ino of size size (counted
// already), holding a reference to it. Called with q.mu held.
func (q *diskQuota) open(ino uint64, size int64) *fileNode {
	n := q.nodes[ino]
	if n == nil {
		n = &fileNode{size: size}
		q.nodes[ino] = n
	}
	n.refs++
	return n
}

// close drops a reference to n; an unlinked node stops counting at its last.
func (q *diskQuota) close(ino uint64, n *fileNode) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n.refs--
	if n.refs == 0 && n.unlinked {
		q.bytes -= n.size
		delete(q.nodes, ino)
	}
}

// removed accounts for the entry st that is no longer in the mount (removed,
// or replaced by a rename). Called with q.mu held.
func (q *diskQuota) removed(st fs.FileInfo, ino uint64) {
	q.files--
	if !st.Mode().IsRegular() {
		return
	}
	n := q.nodes[ino]
	switch {
	case n == nil:
		q.bytes -= st.Size()
	case n.refs > 0:
		n.unlinked = true // still open: its bytes stay on the disk
	default:
		q.bytes -= n.size
		delete(q.nodes, ino)
	}
}

// grow returns how many of want bytes written at off may be written to n:
// all of them, fewer (the quota is reached: exceeded), or none (ENOSPC).
// Called with q.mu held.
func (q *diskQuota) grow(n *fileNode, off int64, want int) (int, experimentalsys.Errno) {
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if q.maxBytes == 0 || want == 0 {
		return want, 0
	}
	maxEnd := n.size + (q.maxBytes - q.bytes) // the file may grow to this size
	if (off <= n.size && int64(want) <= n.size-off) || (off <= maxEnd && int64(want) <= maxEnd-off) {
		return want, 0
	}
	q.exceeded = true
	if off >= maxEnd {
		return 0, errQuota
	}
	return int(maxEnd - off), 0
}

// wrote counts a write that ended at end.
// Called with q.mu held.
func (q *diskQuota) wrote(n *fileNode, end int64) {
	if end > n.size {
		q.bytes += end - n.size
		n.size = end
	}
}

// resize checks and counts a truncation of n to size.
// Called with q.mu held.
func (q *diskQuota) resize(n *fileNode, size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if q.maxBytes > 0 && size > n.size && size-n.size > q.maxBytes-q.bytes {
		q.exceeded = true
		return errQuota
	}
	return 0
}

// resized counts n's new size.
// Called with q.mu held.
func (q *diskQuota) resized(n *fileNode, size int64) {
	q.bytes += size - n.size
	n.size = size
}
