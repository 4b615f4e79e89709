package content

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Inputs from URLs (job.Input.URL): the provider fetches them itself, if
// its owner allows it (WithURLInputs). The addresses a job may make it
// reach are what an attacker would aim at — the provider's loopback
// services, its private network, a cloud's metadata service — so every
// connection, the first and each redirect's, is checked after the name
// is resolved, against the address actually dialled (a name that
// resolves to 127.0.0.1 is refused as 127.0.0.1 is). Plain http is taken
// only with an expected CID (the bytes are then checked) or on a test
// network. What is fetched counts against the inputs limit, read as it
// arrives, never more.

// ErrURLInputs is the error of a URL input the provider refuses: the
// owner does not allow them, or the address or scheme is not allowed.
var ErrURLInputs = errors.New("URL input refused")

// ErrInputCID means a URL input's bytes do not hash to its expected CID.
var ErrInputCID = errors.New("the fetched bytes do not match the input's CID")

// maxRedirects bounds the redirects a URL input may take.
const maxRedirects = 5

// publicAddr reports whether a is an address a URL input may reach on a
// real network: not loopback, private (RFC 1918, fc00::/7), link-local,
// shared (100.64.0.0/10), unspecified, multicast, or otherwise reserved.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// reserved are prefixes no URL input may reach beyond those netip names.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// urlClient returns the HTTP client of URL inputs: no proxy from the
// environment, every dialled address checked by allowed, at most
// maxRedirects redirects, each to an allowed scheme.
func urlClient(allowed func(netip.Addr) bool, plainHTTP bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrURLInputs, address, err)
		}
		if !allowed(ap.Addr()) {
			return fmt.Errorf("%w: %s is not a public address", ErrURLInputs, ap.Addr())
		}
		return nil
	}}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second, DisableKeepAlives: true, DisableCompression: true}
	return &http.Client{Transport: tr, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrURLInputs, maxRedirects)
		}
		if r.URL.Scheme != "https" && (r.URL.Scheme != "http" || !plainHTTP) {
			return fmt.Errorf("%w: a redirect to %s", ErrURLInputs, r.URL.Redacted())
		}
		return nil
	}}
}

// fetchURL fetches input in into dir/in.Name, counting it against budget,
// and checks it against in.CID when given. On any error nothing is left.
func (c *Content) fetchURL(ctx context.Context, in job.Input, dir string, budget *Budget) (err error) {
	if !c.urlInputs {
		return fmt.Errorf("%w: this provider's owner does not allow URL inputs (start --allow-url-inputs)", ErrURLInputs)
	}
	var want cid.Cid
	if in.CID != "" {
		if want, err = job.ParseCID(in.CID); err != nil {
			return err
		}
	}
	plainHTTP := c.anyAddr || want.Defined()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URL, nil)
	if err != nil {
		return err
	}
	if req.URL.Scheme != "https" && !plainHTTP {
		return fmt.Errorf("%w: plain http without an expected CID", ErrURLInputs)
	}
	allowed := publicAddr
	if c.anyAddr {
		allowed = func(netip.Addr) bool { return true }
	}
	if c.urlAllow != nil {
		allowed = c.urlAllow
	}
	resp, err := urlClient(allowed, plainHTTP).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL.Redacted(), resp.Status)
	}
	p := filepath.Join(dir, in.Name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, budget.bytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", req.URL.Redacted(), err)
	}
	if err := budget.Take(n, 1); err != nil {
		return fmt.Errorf("%s: %w", req.URL.Redacted(), err)
	}
	if want.Defined() {
		return checkInputCID(ctx, p, h.Sum(nil), want)
	}
	return nil
}

// checkInputCID checks the file p (whose SHA-256 is sum) against want: a
// raw CID by its digest, a UnixFS file by importing it again (hashing
// only: the blocks are not kept).
func checkInputCID(ctx context.Context, p string, sum []byte, want cid.Cid) error {
	var got cid.Cid
	switch want.Type() {
	case cid.Raw:
		m, err := mh.Encode(sum, mh.SHA2_256)
		if err != nil {
			return err
		}
		got = cid.NewCidV1(cid.Raw, m)
	case cid.DagProtobuf:
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if got, err = unixfs.FileCID(ctx, f); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: %s is neither a raw nor a UnixFS CID", ErrInputCID, want)
	}
	if !got.Equals(want) {
		return fmt.Errorf("%w: got %s, want %s", ErrInputCID, got, want)
	}
	return nil
}
