package node

import (
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// registry is a node's Prometheus registry, remembering every collector
// registered with it (libp2p's, which go-libp2p registers itself,
// included): a vector shows up in a scrape only once it has a child, and
// the documentation of the metrics (docs/METRICS.md) must cover those
// that have none yet too.
type registry struct {
	*prometheus.Registry
	mu         sync.Mutex
	collectors []prometheus.Collector
}

func newRegistry() *registry { return &registry{Registry: prometheus.NewRegistry()} }

// Register registers c and remembers it.
func (r *registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	r.collectors = append(r.collectors, c)
	r.mu.Unlock()
	return nil
}

// MustRegister registers cs, panicking on the first that fails (as
// prometheus.Registry.MustRegister does).
func (r *registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(fmt.Errorf("registering a metric: %w", err))
		}
	}
}

// Unregister unregisters c and forgets it.
func (r *registry) Unregister(c prometheus.Collector) bool {
	if !r.Registry.Unregister(c) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if reflect.TypeOf(c).Comparable() {
		r.collectors = slices.DeleteFunc(r.collectors, func(o prometheus.Collector) bool {
			return reflect.TypeOf(o) == reflect.TypeOf(c) && o == c
		})
	}
	return true
}

// registered returns the collectors registered, in order.
func (r *registry) registered() []prometheus.Collector {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.collectors)
}
