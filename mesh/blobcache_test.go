package mesh_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/computemesh/computemesh/mesh"
)

func blob(k string, n int) []byte { return bytes.Repeat([]byte(k[:1]), n) }

func TestBlobCache(t *testing.T) {
	// Ops: "put K" / "pin K" (Put with pin) of 10 bytes each, "get K", "unpin K".
	tests := []struct {
		name    string
		max     int
		ops     []string
		present []string
		absent  []string
		str     string
	}{
		{
			name:    "within the bound nothing is evicted",
			max:     30,
			ops:     []string{"put a", "put b", "put c"},
			present: []string{"a", "b", "c"},
			str:     "3 blobs, 30 bytes",
		},
		{
			name:    "the least recently put is evicted",
			max:     30,
			ops:     []string{"put a", "put b", "put c", "put d"},
			present: []string{"b", "c", "d"},
			absent:  []string{"a"},
			str:     "3 blobs, 30 bytes",
		},
		{
			name:    "Get makes a blob recently used",
			max:     30,
			ops:     []string{"put a", "put b", "put c", "get a", "put d"},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name:    "Put of a present blob makes it recently used",
			max:     30,
			ops:     []string{"put a", "put b", "put c", "put a", "put d"},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name:    "Put of a present blob does not count its size twice",
			max:     30,
			ops:     []string{"put a", "put a", "put a"},
			present: []string{"a"},
			str:     "1 blobs, 10 bytes",
		},
		{
			name:    "several evictions for one large blob",
			max:     30,
			ops:     []string{"put a", "put b", "put c", "put big"},
			present: []string{"c", "big"},
			absent:  []string{"a", "b"},
			str:     "2 blobs, 30 bytes",
		},
		{
			name:    "a pinned blob is kept, the next oldest goes",
			max:     30,
			ops:     []string{"pin a", "put b", "put c", "put d"},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name:    "pinned blobs are kept even over the bound",
			max:     20,
			ops:     []string{"pin a", "pin b", "pin c"},
			present: []string{"a", "b", "c"},
			str:     "3 blobs, 30 bytes",
		},
		{
			name:    "pinning a present blob",
			max:     30,
			ops:     []string{"put a", "put b", "put c", "pin a", "put d"},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name:    "Unpin makes a blob evictable again",
			max:     30,
			ops:     []string{"pin a", "put b", "put c", "unpin a", "get b", "get c", "put d"},
			present: []string{"b", "c", "d"},
			absent:  []string{"a"},
		},
		{
			name:    "two pins need two Unpins",
			max:     30,
			ops:     []string{"pin a", "pin a", "put b", "put c", "unpin a", "put d"},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name:    "two pins, two Unpins",
			max:     30,
			ops:     []string{"pin a", "pin a", "put b", "put c", "unpin a", "unpin a", "put d"},
			present: []string{"b", "c", "d"},
			absent:  []string{"a"},
		},
		{
			name:    "Unpin of an unpinned blob leaves it evictable",
			max:     30,
			ops:     []string{"put a", "unpin a", "unpin a", "put b", "put c", "put d"},
			present: []string{"b", "c", "d"},
			absent:  []string{"a"},
		},
		{
			name:    "extra Unpins do not cancel a later pin",
			max:     30,
			ops:     []string{"put a", "unpin a", "unpin a", "pin a", "put b", "put c", "get b", "get c", "put d"},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name:    "Unpin of an unknown blob is a no-op",
			max:     30,
			ops:     []string{"unpin x", "put a"},
			present: []string{"a"},
			absent:  []string{"x"},
			str:     "1 blobs, 10 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mesh.NewBlobCache(tt.max)
			for _, op := range tt.ops {
				var verb, k string
				fmt.Sscan(op, &verb, &k)
				n := 10
				if k == "big" {
					n = 20
				}
				switch verb {
				case "put", "pin":
					c.Put(k, blob(k, n), verb == "pin")
				case "get":
					if _, ok := c.Get(k); !ok {
						t.Fatalf("%s: not present", op)
					}
				case "unpin":
					c.Unpin(k)
				default:
					t.Fatalf("bad op %q", op)
				}
			}
			for _, k := range tt.present {
				b, ok := c.Get(k)
				if !ok {
					t.Errorf("%s was evicted (%s), want it kept", k, c)
					continue
				}
				if !bytes.Equal(b, blob(k, len(b))) || len(b) == 0 {
					t.Errorf("Get(%s) = %q, not the bytes put", k, b)
				}
			}
			for _, k := range tt.absent {
				if _, ok := c.Get(k); ok {
					t.Errorf("%s is present (%s), want it evicted", k, c)
				}
			}
			if tt.str != "" && c.String() != tt.str {
				t.Errorf("String() = %q, want %q", c.String(), tt.str)
			}
		})
	}
}

func TestBlobCacheConcurrent(t *testing.T) {
	const max = 1000
	c := mesh.NewBlobCache(max)
	c.Put("pinned", blob("p", 100), true)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				k := fmt.Sprintf("k%d-%d", w, i%40)
				c.Put(k, blob(k, 50), i%7 == 0)
				if b, ok := c.Get(k); ok && len(b) != 50 {
					t.Errorf("Get(%s) = %d bytes, want 50", k, len(b))
				}
				if i%7 == 0 {
					c.Unpin(k)
				}
				_ = c.String()
			}
		}()
	}
	wg.Wait()
	// Unpin does not evict: one more Put brings the cache back in bounds.
	c.Put("final", blob("f", 50), false)
	if _, ok := c.Get("pinned"); !ok {
		t.Fatal("the pinned blob was evicted")
	}
	var blobs, size int
	if _, err := fmt.Sscanf(c.String(), "%d blobs, %d bytes", &blobs, &size); err != nil {
		t.Fatal(err)
	}
	if size > max || size != 100+50*(blobs-1) {
		t.Fatalf("after churn: %s; want at most %d bytes, sizes adding up", c, max)
	}
	got := []string{}
	for w := 0; w < 16; w++ {
		for i := 0; i < 40; i++ {
			if _, ok := c.Get(fmt.Sprintf("k%d-%d", w, i)); ok {
				got = append(got, fmt.Sprintf("k%d-%d", w, i))
			}
		}
	}
	if _, ok := c.Get("final"); !ok {
		t.Fatal("the most recent blob was evicted")
	}
	if len(got) != blobs-2 {
		t.Fatalf("%d unpinned blobs found, String says %d in all", len(got), blobs)
	}
}
