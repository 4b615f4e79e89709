package content

import (
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
)

// What a provider fetches for one job's inputs, all inputs together: a
// client's submission over it is refused before it is published, and a
// provider stops fetching at it.
const (
	MaxInputBytes = 16 << 30
	MaxInputFiles = 4 * store.MaxEntries
)

// What a job may leave in /outputs: files and directories; bytes, at most
// (resources.disk may reserve up to MaxOutputBytes) and when it reserved
// nothing.
const (
	MaxOutputFiles     = 1024
	MaxOutputBytes     = 16 << 30
	DefaultOutputBytes = 256 << 20
)

// ErrOverBudget means a tree a peer offered is larger than what the fetch
// allows (the job's reserved disk for outputs, MaxInputBytes for inputs).
var ErrOverBudget = errors.New("over the limit")

// OutputLimit is the most bytes a job that reserved disk (0: none) may
// leave in /outputs: the reservation, at most MaxOutputBytes;
// DefaultOutputBytes without one.
func OutputLimit(disk uint64) int64 {
	if disk == 0 {
		return DefaultOutputBytes
	}
	return int64(min(disk, MaxOutputBytes))
}

// Budget is what one job's fetches may still bring in: bytes of files and
// files. It is not safe for concurrent use.
type Budget struct {
	bytes int64
	files int
	limit string // names the limit, for errors
}

// OutputsBudget is what a client fetches of the outputs of a job that
// reserved disk bytes (0: none): OutputLimit and MaxOutputFiles.
func OutputsBudget(disk uint64) *Budget {
	return &Budget{
		bytes: OutputLimit(disk), files: MaxOutputFiles,
		limit: fmt.Sprintf("what the job reserved (resources.disk %s, at most %d files)", job.FormatSize(uint64(OutputLimit(disk))), MaxOutputFiles),
	}
}

// InputsBudget is what a provider fetches of one job's inputs (and what a
// client lets a job's inputs amount to): MaxInputBytes, MaxInputFiles.
func InputsBudget() *Budget { return inputsBudget(MaxInputBytes) }

// inputsBudget is InputsBudget with bytes instead of MaxInputBytes (a
// provider's owner may allow less: WithInputLimit).
func inputsBudget(bytes int64) *Budget {
	return &Budget{
		bytes: bytes, files: MaxInputFiles,
		limit: fmt.Sprintf("the inputs limit (%s, %d files)", job.FormatSize(uint64(bytes)), MaxInputFiles),
	}
}

// Left is how many bytes b has left.
func (b *Budget) Left() int64 { return b.bytes }

// Take spends bytes and files of b, or fails (spending nothing) when they
// are more than what is left.
func (b *Budget) Take(bytes int64, files int) error {
	if bytes < 0 || bytes > b.bytes || files > b.files {
		return fmt.Errorf("%w: %d files of %s, more than %s allows", ErrOverBudget, files, job.FormatSize(uint64(max(bytes, 0))), b.limit)
	}
	b.bytes -= bytes
	b.files -= files
	return nil
}
