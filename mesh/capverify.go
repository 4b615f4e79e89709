package mesh

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
)

// verifiedMax bounds the signed capacity records a node remembers having
// verified.
const verifiedMax = 1024

// verifiedCapacity remembers the signed capacity records whose signature
// this node has checked, by the SHA-256 of their bytes. The DHT validates a
// record at every step: a server each record it stores and each it returns
// to a GET_VALUE, a client each answer of a look-up and again each time it
// selects the best of two (about 60 signature checks for one record looked
// up on 20 peers). One check per record and node is enough: the bytes that
// verified once verify always; only the expiry is checked again each time.
type verifiedCapacity struct {
	mu   sync.Mutex
	recs map[[sha256.Size]byte]*job.Capacity
}

// open is OpenCapacity through the memory of verified records (nil: none).
func (v *verifiedCapacity) open(b []byte, now time.Time) (*job.Capacity, error) {
	if v == nil || len(b) > job.MaxCapacityRecord {
		return OpenCapacity(b, now)
	}
	h := sha256.Sum256(b)
	v.mu.Lock()
	c, ok := v.recs[h]
	v.mu.Unlock()
	if ok {
		if err := checkExpiry(c, now); err != nil {
			return nil, err
		}
		return cloneCapacity(c), nil
	}
	c, err := OpenCapacity(b, now)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.recs == nil {
		v.recs = make(map[[sha256.Size]byte]*job.Capacity)
	}
	for k := range v.recs { // full: forget one, any
		if len(v.recs) < verifiedMax {
			break
		}
		delete(v.recs, k)
	}
	v.recs[h] = cloneCapacity(c)
	v.mu.Unlock()
	return c, nil
}

// cloneCapacity is a copy of c that shares no slice with it.
func cloneCapacity(c *job.Capacity) *job.Capacity {
	d := *c
	d.Executors = slices.Clone(c.Executors)
	d.CPU.Flags = slices.Clone(c.CPU.Flags)
	d.GPUs = slices.Clone(c.GPUs)
	return &d
}
