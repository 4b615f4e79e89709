package node

import (
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// trimFloor is how much freed heap a node keeps from the system before it
// hands it back at once (MemoryTrim).
const trimFloor = 1 << 20

// freeHeap is the heap memory the runtime holds free, not yet returned
// to the system.
const freeHeap = "/memory/classes/heap/free:bytes"

// trimMemory hands freed heap back to the system every MemoryTrim when
// more than trimFloor of it is held. After a burst (a flood of requests,
// a batch of jobs) the runtime would keep it resident for minutes, up to
// twice the live heap; a provider is a guest on its owner's machine, so it
// gives it back once things are quiet. At most one forced collection per
// period, only when there is something to give back.
func (n *Node) trimMemory(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	sample := []rtmetrics.Sample{{Name: freeHeap}}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			rtmetrics.Read(sample)
			if sample[0].Value.Kind() == rtmetrics.KindUint64 && sample[0].Value.Uint64() > trimFloor {
				debug.FreeOSMemory()
			}
		}
	}
}
