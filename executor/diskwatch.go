package executor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"
)

// Bounds on the work of one measurement of a job's outputs.
const (
	// diskScanMaxEntries bounds the entries one scan visits when the task
	// sets no MaxFiles (with MaxFiles, a scan stops at MaxFiles+1).
	diskScanMaxEntries = 1 << 20
	// DiskScanMaxDepth is how deeply the outputs of a docker or exec job
	// may nest directories: a deeper tree cannot be measured within
	// bounds, and stops the job like outputs over their limit.
	DiskScanMaxDepth = 64
	// diskCheckMinInterval is the shortest pause between two scans, and
	// diskCheckCostFactor how many times the last scan's cost the pause is.
	diskCheckMinInterval = 5 * time.Millisecond
	diskCheckCostFactor  = 20
	// diskReadBatch is how many directory entries are read at a time.
	diskReadBatch = 256
)

// diskReason is why a measurement stops a job.
type diskReason int

// The reasons a job's outputs stop it.
const (
	diskOK         diskReason = iota // within the bounds
	diskOverBytes                    // Task.DiskBytes passed
	diskOverFiles                    // Task.MaxFiles passed
	diskTooDeep                      // directories nested deeper than DiskScanMaxDepth
	diskUnreadable                   // a directory the executor cannot read
)

// diskUsage is one measurement of an outputs directory.
type diskUsage struct {
	bytes   uint64 // sizes of regular files (what the scan reached)
	entries int    // files, directories, links and others below the root
	reason  diskReason
	detail  string // for diskUnreadable: the error
}

// fileSizeLimit is the file-size limit (RLIMIT_FSIZE) that exec and docker
// set for outputs bounded to diskBytes: one byte more, so that a writer
// that crosses the bound, whether the limit's SIGXFSZ kills it or it
// ignores the signal and gets EFBIG, leaves outputs that measure over it
// (Check after the run says so). No single file outgrows it, however fast
// it is written and whatever the watcher's polling misses.
func fileSizeLimit(diskBytes uint64) uint64 { return min(diskBytes, math.MaxInt64-1) + 1 }

// message is Result.Reason for a job stopped by u.
func (u diskUsage) message(t *Task) string {
	switch u.reason {
	case diskOverBytes:
		return fmt.Sprintf("disk limit exceeded: outputs reached %d bytes, over the limit of %d bytes", u.bytes, t.DiskBytes)
	case diskOverFiles:
		return fmt.Sprintf("disk limit exceeded: outputs reached more than %d files and directories", t.MaxFiles)
	case diskTooDeep:
		return fmt.Sprintf("disk limit exceeded: outputs nest directories deeper than %d levels", DiskScanMaxDepth)
	case diskUnreadable:
		return "disk limit exceeded: outputs cannot be measured: " + u.detail
	}
	return ""
}

// measureOutputs measures dir against t's bounds: the sizes of its regular
// files and the number of its entries, read with lstat (links are counted,
// never followed; the walk goes through the directory tree by file
// descriptors beneath dir, so a link swapped in during the walk cannot lead
// it outside). It stops at the first bound passed, and after at most
// MaxFiles+1 (or diskScanMaxEntries) entries.
func measureOutputs(dir string, t *Task) diskUsage {
	var u diskUsage
	root, err := os.OpenRoot(dir)
	if err != nil {
		return diskUsage{reason: diskUnreadable, detail: err.Error()}
	}
	maxEntries := diskScanMaxEntries
	if t.MaxFiles > 0 {
		maxEntries = t.MaxFiles
	}
	var walk func(r *os.Root, depth int) bool // false: stop
	walk = func(r *os.Root, depth int) bool {
		f, err := r.Open(".")
		if err != nil {
			u.reason, u.detail = diskUnreadable, err.Error()
			return false
		}
		defer f.Close()
		for {
			ents, err := f.ReadDir(diskReadBatch)
			for _, e := range ents {
				u.entries++
				if u.entries > maxEntries {
					if t.MaxFiles > 0 {
						u.reason = diskOverFiles
					}
					return false
				}
				switch typ := e.Type(); {
				case typ.IsRegular():
					if fi, err := e.Info(); err == nil { // lstat; gone since: not counted
						u.bytes += uint64(max(fi.Size(), 0))
					}
					if t.DiskBytes > 0 && u.bytes > t.DiskBytes {
						u.reason = diskOverBytes
						return false
					}
				case typ.IsDir():
					if depth+1 >= DiskScanMaxDepth {
						u.reason = diskTooDeep
						return false
					}
					sub, err := r.OpenRoot(e.Name())
					if errors.Is(err, fs.ErrNotExist) {
						continue // removed since it was listed
					}
					if err != nil {
						u.reason, u.detail = diskUnreadable, err.Error()
						return false
					}
					ok := walk(sub, depth+1)
					sub.Close()
					if !ok {
						return false
					}
				}
			}
			if errors.Is(err, io.EOF) {
				return true
			}
			if err != nil {
				u.reason, u.detail = diskUnreadable, err.Error()
				return false
			}
		}
	}
	walk(root, 0)
	root.Close()
	return u
}

// diskWatch measures a running job's outputs at least every
// DiskCheckInterval (more often when a scan is cheap) and reports the first
// measurement over the task's bounds. A nil *diskWatch (a task without
// outputs or bounds) never reports.
type diskWatch struct {
	over chan struct{} // closed with usage set
	done chan struct{} // closed by stop
	exit chan struct{} // closed when the goroutine returns
	t    *Task
	u    diskUsage
}

// watchDisk starts watching t.OutputsDir; nil when t sets no bound or no
// outputs directory. Stop it when the job has ended.
func watchDisk(t *Task) *diskWatch {
	if t.OutputsDir == "" || (t.DiskBytes == 0 && t.MaxFiles <= 0) {
		return nil
	}
	w := &diskWatch{over: make(chan struct{}), done: make(chan struct{}), exit: make(chan struct{}), t: t}
	go w.loop()
	return w
}

func (w *diskWatch) loop() {
	defer close(w.exit)
	// The first look comes soon: a fast writer fills much in one interval.
	timer := time.NewTimer(diskCheckMinInterval)
	defer timer.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-timer.C:
		}
		began := time.Now()
		u := measureOutputs(w.t.OutputsDir, w.t)
		if u.reason != diskOK {
			w.u = u
			close(w.over)
			return
		}
		timer.Reset(nextDiskCheck(time.Since(began)))
	}
}

// nextDiskCheck is the pause before the next scan after one that took cost:
// diskCheckCostFactor times its cost, between diskCheckMinInterval and
// DiskCheckInterval. A small tree (the common case) is measured every few
// milliseconds, so that a job writing at the speed of the page cache is
// stopped soon after its bound; the scans of a large one take at most about
// 1/diskCheckCostFactor of a core.
func nextDiskCheck(cost time.Duration) time.Duration {
	return min(max(cost*diskCheckCostFactor, diskCheckMinInterval), DiskCheckInterval)
}

// Over is closed once the outputs are over a bound (never for a nil w).
func (w *diskWatch) Over() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.over
}

// Reason is Result.Reason for a job stopped by w; call it after Over is
// closed.
func (w *diskWatch) Reason() string { return w.u.message(w.t) }

// Check is whether the outputs are over a bound once the job has ended: as
// the watch saw them, or as one more measurement finds them, for what was
// written after the last scan (a job that ends quickly, or one the
// file-size limit stopped). Reason then says how. Call it after Stop; false
// for a nil w.
func (w *diskWatch) Check() bool {
	if w == nil {
		return false
	}
	select {
	case <-w.over:
		return true
	default:
	}
	u := measureOutputs(w.t.OutputsDir, w.t)
	if u.reason == diskOK {
		return false
	}
	w.u = u
	return true
}

// Stop ends the watch and waits for its goroutine; safe on a nil w and more
// than once.
func (w *diskWatch) Stop() {
	if w == nil {
		return
	}
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	<-w.exit
}
