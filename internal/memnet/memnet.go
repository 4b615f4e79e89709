package memnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ErrRefused is what a dial to an address nobody listens on returns.
var ErrRefused = errors.New("memnet: connection refused")

// firstEphemeral is where the ports of dialling ends start.
const firstEphemeral = 40000

// Network is one in-memory address space: the listeners of every
// transport made by it, by address.
type Network struct {
	mu        sync.Mutex
	listeners map[string]*listener // by TCP address (ip:port)
	nextPort  int                  // the next port given to a listener asking for port 0 or to a dialling end
}

// New returns an empty network.
func New() *Network {
	return &Network{listeners: make(map[string]*listener), nextPort: firstEphemeral}
}

// Transport returns a constructor for libp2p.Transport: the transport of
// the host with key, on this network.
//
//	libp2p.New(libp2p.Identity(key), libp2p.Transport(n.Transport(key)), ...)
func (n *Network) Transport(key crypto.PrivKey) func(network.ResourceManager) (*Transport, error) {
	return func(rm network.ResourceManager) (*Transport, error) {
		return n.NewTransport(key, rm)
	}
}

// NewTransport is the transport of the host with key on this network; rm
// accounts its connections (nil: none).
func (n *Network) NewTransport(key crypto.PrivKey, rm network.ResourceManager) (*Transport, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("memnet: transport key: %w", err)
	}
	if rm == nil {
		rm = &network.NullResourceManager{}
	}
	return &Transport{net: n, key: key, id: id, rm: rm}, nil
}

// port returns a free port of ip.
func (n *Network) port(ip net.IP) int {
	for {
		p := n.nextPort
		n.nextPort++
		if n.nextPort > 65535 {
			n.nextPort = firstEphemeral
		}
		if _, taken := n.listeners[(&net.TCPAddr{IP: ip, Port: p}).String()]; !taken {
			return p
		}
	}
}

// tcpAddr is a's TCP address if a is exactly /ip4|ip6/IP/tcp/PORT.
func tcpAddr(a ma.Multiaddr) (*net.TCPAddr, bool) {
	if len(a) != 2 || a[1].Code() != ma.P_TCP || (a[0].Code() != ma.P_IP4 && a[0].Code() != ma.P_IP6) {
		return nil, false
	}
	na, err := manet.ToNetAddr(a)
	if err != nil {
		return nil, false
	}
	ta, ok := na.(*net.TCPAddr)
	return ta, ok
}

// Transport is one host's transport on a Network.
type Transport struct {
	net *Network
	key crypto.PrivKey
	id  peer.ID
	rm  network.ResourceManager
	ip  net.IP // of its first listener: where its dials come from (n.mu)
}

var _ transport.Transport = (*Transport)(nil)

// CanDial reports whether a is a TCP address (/ip4 or /ip6, then /tcp).
func (t *Transport) CanDial(a ma.Multiaddr) bool {
	_, ok := tcpAddr(a)
	return ok
}

// Protocols is TCP: the addresses the transport claims.
func (t *Transport) Protocols() []int { return []int{ma.P_TCP} }

// Proxy is false.
func (t *Transport) Proxy() bool { return false }

// Listen listens on laddr (port 0: a free one).
func (t *Transport) Listen(laddr ma.Multiaddr) (transport.Listener, error) {
	ta, ok := tcpAddr(laddr)
	if !ok {
		return nil, fmt.Errorf("memnet: cannot listen on %s: not an IP and TCP address", laddr)
	}
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if ta.Port == 0 {
		ta = &net.TCPAddr{IP: ta.IP, Port: n.port(ta.IP)}
	}
	if _, taken := n.listeners[ta.String()]; taken {
		return nil, fmt.Errorf("memnet: listen %s: address already in use", ta)
	}
	addr, err := manet.FromNetAddr(ta)
	if err != nil {
		return nil, fmt.Errorf("memnet: listen %s: %w", ta, err)
	}
	l := &listener{t: t, tcp: ta, addr: addr, arrived: make(chan struct{}, 1), done: make(chan struct{})}
	n.listeners[ta.String()] = l
	if t.ip == nil {
		t.ip = ta.IP
	}
	return l, nil
}

// Dial connects to the listener at raddr, which must be peer p's.
func (t *Transport) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memnet: dial %s: %w", raddr, err)
	}
	ta, ok := tcpAddr(raddr)
	if !ok {
		return nil, fmt.Errorf("memnet: cannot dial %s: not an IP and TCP address", raddr)
	}
	n := t.net
	n.mu.Lock()
	l := n.listeners[ta.String()]
	from := t.ip
	if from == nil {
		from = ta.IP
	}
	laddr, err := manet.FromNetAddr(&net.TCPAddr{IP: from, Port: n.port(from)})
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial %s: %w", raddr, ErrRefused)
	}
	if err != nil {
		return nil, fmt.Errorf("memnet: dial %s: %w", raddr, err)
	}
	if l.t.id != p {
		return nil, fmt.Errorf("memnet: dial %s: peer id mismatch: expected %s, the listener is %s", raddr, p, l.t.id)
	}
	out, err := t.rm.OpenConnection(network.DirOutbound, true, raddr)
	if err != nil {
		return nil, fmt.Errorf("memnet: dial %s: %w", raddr, err)
	}
	if err := out.SetPeer(p); err != nil {
		out.Done()
		return nil, fmt.Errorf("memnet: dial %s: %w", raddr, err)
	}
	in, err := l.t.rm.OpenConnection(network.DirInbound, true, laddr)
	if err != nil {
		out.Done()
		return nil, fmt.Errorf("memnet: dial %s: refused by the listener's resource manager: %w", raddr, err)
	}
	if err := in.SetPeer(t.id); err != nil {
		out.Done()
		in.Done()
		return nil, fmt.Errorf("memnet: dial %s: refused by the listener's resource manager: %w", raddr, err)
	}
	local, remote := newConnPair(t, out, laddr, l.t, in, raddr)
	if err := l.enqueue(remote); err != nil {
		local.Close()
		remote.Close()
		return nil, fmt.Errorf("dial %s: %w", raddr, err)
	}
	return local, nil
}

// listenBacklog is how many dialled connections a listener holds that it
// has not accepted; a dial past it is refused.
const listenBacklog = 1024

// listener is a Transport's listener at one address.
type listener struct {
	t    *Transport
	tcp  *net.TCPAddr
	addr ma.Multiaddr

	mu      sync.Mutex
	conns   []*conn // dialled, to be accepted
	closed  bool
	arrived chan struct{} // 1: a connection was queued
	done    chan struct{} // closed by Close
}

// enqueue queues c for Accept, unless the listener is closed or full.
func (l *listener) enqueue(c *conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrRefused
	case len(l.conns) >= listenBacklog:
		return fmt.Errorf("%w: %d connections waiting to be accepted", ErrRefused, listenBacklog)
	}
	l.conns = append(l.conns, c)
	signal(l.arrived)
	return nil
}

func (l *listener) Accept() (transport.CapableConn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, transport.ErrListenerClosed
		}
		if len(l.conns) > 0 {
			c := l.conns[0]
			l.conns[0] = nil
			l.conns = l.conns[1:]
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Unlock()
		select {
		case <-l.arrived:
		case <-l.done:
		}
	}
}

// Close stops listening; connections dialled and not accepted are closed.
func (l *listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	n := l.t.net
	n.mu.Lock()
	delete(n.listeners, l.tcp.String())
	n.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
	close(l.done)
	return nil
}

func (l *listener) Addr() net.Addr          { return l.tcp }
func (l *listener) Multiaddr() ma.Multiaddr { return l.addr }
