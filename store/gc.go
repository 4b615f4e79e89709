package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// Defaults of a store's retention (see Retention).
const (
	DefaultMaxBytes = 10 << 30           // 10 GiB
	DefaultMaxAge   = 7 * 24 * time.Hour // a week unused
	DefaultMinAge   = 10 * time.Minute   // work in flight
	// tmpMaxAge is how old a temporary file of an interrupted Put must be
	// before a collection removes it.
	tmpMaxAge = time.Hour
	tmpPrefix = ".put-"
	pinsDir   = ".pins"
)

// Retention is what a collection drops of the blobs nothing protects (see
// Plan): those unused for MaxAge, then the least recently used until the
// store holds at most MaxBytes. A blob used (stored or read) within MinAge
// is never dropped: it may belong to work in flight.
type Retention struct {
	MaxBytes int64         // 0: no size cap
	MaxAge   time.Duration // 0: no age limit
	MinAge   time.Duration
}

// DefaultRetention is DefaultMaxBytes, DefaultMaxAge and DefaultMinAge.
func DefaultRetention() Retention {
	return Retention{MaxBytes: DefaultMaxBytes, MaxAge: DefaultMaxAge, MinAge: DefaultMinAge}
}

// DropReason says why a collection dropped a blob.
type DropReason string

// The reasons a blob is dropped.
const (
	DropExpired DropReason = "expired" // its holder's need for it ended (a provider's outputs past their grant)
	DropAge     DropReason = "age"     // unused for longer than Retention.MaxAge
	DropSize    DropReason = "size"    // the least recently used while the store was over Retention.MaxBytes
)

// Blob is one blob of a store as a collection sees it.
type Blob struct {
	CID  string    `json:"cid"`
	Size int64     `json:"size"`
	Used time.Time `json:"used"` // last stored or read
}

// Dropped is a blob a collection dropped (or would drop, in a dry run).
type Dropped struct {
	Blob
	Reason DropReason `json:"reason"`
}

// Plan returns the blobs of blobs to drop, oldest used first within each
// reason: never one that keep protects or that was used within r.MinAge;
// those expired says are no longer needed; those unused for r.MaxAge; then,
// while the blobs left are over r.MaxBytes, the least recently used. It is
// pure: blobs is not modified.
func Plan(blobs []Blob, keep, expired func(c string) bool, r Retention, now time.Time) []Dropped {
	sorted := append([]Blob(nil), blobs...)
	sort.Slice(sorted, func(i, j int) bool {
		if !sorted[i].Used.Equal(sorted[j].Used) {
			return sorted[i].Used.Before(sorted[j].Used)
		}
		return sorted[i].CID < sorted[j].CID
	})
	var total int64
	for _, b := range sorted {
		total += b.Size
	}
	var drop []Dropped
	var left []Blob // candidates for the size cap
	for _, b := range sorted {
		switch {
		case keep(b.CID) || now.Sub(b.Used) < r.MinAge:
		case expired(b.CID):
			drop = append(drop, Dropped{b, DropExpired})
			total -= b.Size
		case r.MaxAge > 0 && now.Sub(b.Used) > r.MaxAge:
			drop = append(drop, Dropped{b, DropAge})
			total -= b.Size
		default:
			left = append(left, b)
		}
	}
	for _, b := range left {
		if r.MaxBytes <= 0 || total <= r.MaxBytes {
			break
		}
		drop = append(drop, Dropped{b, DropSize})
		total -= b.Size
	}
	return drop
}

// Report is what a collection found and freed.
type Report struct {
	DryRun     bool      `json:"dry_run"`
	Blobs      int       `json:"blobs"` // before the collection
	Bytes      int64     `json:"bytes"`
	Protected  int       `json:"protected"` // pinned or referenced
	Freed      []Dropped `json:"freed"`
	FreedBytes int64     `json:"freed_bytes"`
	TempFiles  int       `json:"temp_files"` // leftovers of interrupted writes removed
	// OverMax says the store is still over Retention.MaxBytes: what is
	// left is protected or in use.
	OverMax bool `json:"over_max,omitempty"`
}

// Collect drops what Plan says of the store's blobs and removes the
// temporary files interrupted writes left (older than an hour). keep and
// expired are as for Plan. With dryRun nothing is removed. A blob used
// again since it was listed is not removed.
func (s *Store) Collect(keep, expired func(c string) bool, r Retention, now time.Time, dryRun bool) (*Report, error) {
	blobs, temps, err := s.list(now)
	if err != nil {
		return nil, err
	}
	rep := &Report{DryRun: dryRun, Blobs: len(blobs), Freed: []Dropped{}}
	for _, b := range blobs {
		rep.Bytes += b.Size
		if keep(b.CID) {
			rep.Protected++
		}
	}
	left := rep.Bytes
	for _, d := range Plan(blobs, keep, expired, r, now) {
		if !dryRun {
			p := filepath.Join(s.dir, d.CID)
			if fi, err := os.Stat(p); err != nil || fi.ModTime().After(d.Used) {
				continue // gone, or used since
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rep, fmt.Errorf("store: %w", err)
			}
		}
		rep.Freed = append(rep.Freed, d)
		rep.FreedBytes += d.Size
		left -= d.Size
	}
	rep.OverMax = r.MaxBytes > 0 && left > r.MaxBytes
	for _, t := range temps {
		if !dryRun {
			if err := os.Remove(filepath.Join(s.dir, t)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rep, fmt.Errorf("store: %w", err)
			}
		}
		rep.TempFiles++
	}
	return rep, nil
}

// list returns the store's blobs and the names of the temporary files
// older than tmpMaxAge. Files whose names are not CIDs are left alone.
func (s *Store) list(now time.Time) ([]Blob, []string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	var blobs []Blob
	var temps []string
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since
		}
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if now.Sub(fi.ModTime()) > tmpMaxAge {
				temps = append(temps, e.Name())
			}
			continue
		}
		if _, err := job.ParseCID(e.Name()); err != nil {
			continue
		}
		blobs = append(blobs, Blob{CID: e.Name(), Size: fi.Size(), Used: fi.ModTime()})
	}
	return blobs, temps, nil
}

// touch records that c was used now (its file's modification time).
func (s *Store) touch(c cid.Cid) {
	now := time.Now()
	_ = os.Chtimes(s.path(c), now, now)
}

// Pin protects c (and, for a manifest, every blob it names) from
// collections until Unpin. A pin is a file of its own: pinning beside a
// running node is safe.
func (s *Store) Pin(c cid.Cid) error { return s.pin(c, nil) }

// publishedMark is what the pin file of a published root holds.
const publishedMark = "published\n"

// PinPublished pins c as published content: kept like any pin, and listed
// by Published, so that a node serves and announces it again after a
// restart.
func (s *Store) PinPublished(c cid.Cid) error { return s.pin(c, []byte(publishedMark)) }

func (s *Store) pin(c cid.Cid, mark []byte) error {
	dir := filepath.Join(s.dir, pinsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, c.String()), mark, 0o600); err != nil {
		return fmt.Errorf("store: pin %s: %w", c, err)
	}
	return nil
}

// Published returns the roots pinned as published (PinPublished).
func (s *Store) Published() ([]cid.Cid, error) {
	pins, err := s.Pins()
	if err != nil {
		return nil, err
	}
	var out []cid.Cid
	for _, p := range pins {
		b, err := os.ReadFile(filepath.Join(s.dir, pinsDir, p))
		if err != nil || string(b) != publishedMark {
			continue
		}
		if c, err := cid.Decode(p); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Unpin removes c's pin; one that is not pinned is not an error.
func (s *Store) Unpin(c cid.Cid) error {
	err := os.Remove(filepath.Join(s.dir, pinsDir, c.String()))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: unpin %s: %w", c, err)
	}
	return nil
}

// Pins returns the pinned CIDs.
func (s *Store) Pins() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, pinsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []string
	for _, e := range ents {
		if _, err := job.ParseCID(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Closure returns roots and every blob they lead to that the store holds:
// for a manifest, the files it names; for a DAG's block (dag-pb), the
// blocks it links to, down to the leaves: the set a collection keeps for
// them.
func (s *Store) Closure(roots []string) map[string]bool {
	set := make(map[string]bool, len(roots))
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, err := job.ParseCID(r)
		if err != nil || set[key(c).String()] {
			continue
		}
		set[key(c).String()] = true
		switch c.Type() {
		case job.CodecJSON:
			if m, err := s.manifest(c, s.read); err == nil {
				for _, e := range m.Entries {
					stack = append(stack, e.CID)
				}
			}
		case cid.DagProtobuf:
			if b, err := s.read(c); err == nil {
				for _, l := range links(c, b) {
					stack = append(stack, l.String())
				}
			}
		}
	}
	return set
}
