package content

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// serveOn serves h on addr (127.0.0.x:0) and returns its base URL and a
// count of the requests it answered.
func serveOn(t *testing.T, addr string, h http.HandlerFunc) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String(), &hits
}

func rawCID(b []byte) string {
	sum := sha256.Sum256(b)
	m, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, m).String()
}

func stage(t *testing.T, c *Content, ins ...job.Input) (string, error) {
	t.Helper()
	dir := t.TempDir()
	return dir, c.StageInputs(t.Context(), "", ins, dir)
}

// On a test network a URL input on 127.0.0.1 is fetched into the inputs,
// checked against its expected CID when given: a raw CID, or the UnixFS
// CID kubo would give the bytes.
func TestURLInputFetched(t *testing.T) {
	body := bytes.Repeat([]byte("computemesh "), 50_000) // 600 KB: three UnixFS leaves
	base, _ := serveOn(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	ufsCID, err := unixfs.FileCID(t.Context(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := newContent(t, WithURLInputs(true, true))
	for _, want := range []string{"", rawCID(body), ufsCID.String()} {
		dir, err := stage(t, c, job.Input{Name: "data.txt", URL: base + "/data.txt", CID: want})
		if err != nil {
			t.Fatalf("expecting %q: %v", want, err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "data.txt"))
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("expecting %q: staged %d bytes (%v), want %d", want, len(got), err, len(body))
		}
	}
}

// What the provider refuses, and that nothing of it is left in the
// inputs: URL inputs its owner did not allow; on a real network, an
// address that is not public (by IP, or by a name resolving to one),
// plain http without an expected CID, a redirect to an address not
// allowed (checked on each connection, not only the first URL's);
// anywhere, more bytes than the inputs limit, bytes that do not match the
// expected CID, an answer that is not 200.
func TestURLInputRefused(t *testing.T) {
	const testInputLimit = 8 << 20 // the owner's (MaxInputBytes is 16 GiB)
	body := []byte("the real data\n")
	inner, innerHits := serveOn(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	outer, _ := serveOn(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner+"/secret", http.StatusFound)
	})
	big, _ := serveOn(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range testInputLimit>>20 + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	missing, _ := serveOn(t, "127.0.0.1:0", http.NotFound)
	only2 := func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.2") }
	port := strings.TrimPrefix(inner, "http://127.0.0.1:")
	for _, tc := range []struct {
		name  string
		opts  []Option
		allow func(netip.Addr) bool
		in    job.Input
		want  error
		what  string
	}{
		{"owner does not allow", []Option{WithURLInputs(false, true)}, nil, job.Input{URL: inner}, ErrURLInputs, "does not allow"},
		{"loopback", []Option{WithURLInputs(true, false)}, nil, job.Input{URL: inner, CID: rawCID(body)}, ErrURLInputs, "127.0.0.1 is not a public address"},
		{"a name for loopback", []Option{WithURLInputs(true, false)}, nil, job.Input{URL: "http://localhost:" + port, CID: rawCID(body)}, ErrURLInputs, "not a public address"},
		{"plain http, no CID", []Option{WithURLInputs(true, false)}, nil, job.Input{URL: inner}, ErrURLInputs, "plain http"},
		{"redirect to a refused address", []Option{WithURLInputs(true, false)}, only2, job.Input{URL: outer, CID: rawCID(body)}, ErrURLInputs, "127.0.0.1 is not a public address"},
		{"over the inputs limit", []Option{WithURLInputs(true, true), WithInputLimit(testInputLimit)}, nil, job.Input{URL: big}, ErrOverBudget, "inputs limit"},
		{"wrong bytes", []Option{WithURLInputs(true, true)}, nil, job.Input{URL: inner, CID: rawCID([]byte("other"))}, ErrInputCID, "want"},
		{"not found", []Option{WithURLInputs(true, true)}, nil, job.Input{URL: missing}, nil, "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newContent(t, tc.opts...)
			c.urlAllow = tc.allow
			tc.in.Name = "in"
			hits := innerHits.Load()
			dir, err := stage(t, c, tc.in)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.what) {
				t.Fatalf("%v, want %v (%q)", err, tc.want, tc.what)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Fatalf("%s left in the inputs", ents[0].Name())
			}
			if tc.allow != nil && innerHits.Load() != hits {
				t.Fatal("the redirect's target was reached")
			}
		})
	}
}

// Which addresses count as public.
func TestPublicAddr(t *testing.T) {
	for a, want := range map[string]bool{
		"93.184.216.34": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.8.9.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false,
		"::": false, "100.64.0.1": false, "224.0.0.1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"240.0.0.1": false, "198.18.0.1": false, "64:ff9b::7f00:1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("%s: public %v, want %v", a, got, want)
		}
	}
}
