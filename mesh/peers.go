package mesh

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// maxKnownPeers bounds the peers a node remembers across restarts.
const maxKnownPeers = 64

// PeersFile makes the node remember the peers it is connected to in path
// (every minute and at Close) and dial them at start beside the bootstrap
// peers, so that it can rejoin a formed mesh when every bootstrap node is
// gone. The peerstore itself is not persisted.
func PeersFile(path string) Option {
	return func(c *config) error { c.peersFile = path; return nil }
}

type knownPeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// loadKnownPeers reads the peers file; a missing or unreadable file is no
// peers (logged), never an error that stops a start.
func loadKnownPeers(path string) []peer.AddrInfo {
	b, err := os.ReadFile(path)
	if err != nil {
		if !os.IsNotExist(err) {
			log.Warnw("reading the known peers", "err", err)
		}
		return nil
	}
	var kps []knownPeer
	if len(b) > 1<<20 || json.Unmarshal(b, &kps) != nil {
		log.Warnw("known peers file not valid: ignored", "path", path)
		return nil
	}
	var out []peer.AddrInfo
	for _, kp := range kps {
		id, err := peer.Decode(kp.ID)
		if err != nil {
			continue
		}
		ai := peer.AddrInfo{ID: id}
		for _, a := range kp.Addrs {
			if m, err := ma.NewMultiaddr(a); err == nil {
				ai.Addrs = append(ai.Addrs, m)
			}
		}
		if len(ai.Addrs) > 0 {
			out = append(out, ai)
		}
		if len(out) == maxKnownPeers {
			break
		}
	}
	return out
}

// saveKnownPeers writes the connected peers' addresses (atomically, durably).
func (m *Mesh) saveKnownPeers() error {
	if m.cfg.peersFile == "" {
		return nil
	}
	var kps []knownPeer
	for _, p := range m.host.Network().Peers() {
		kp := knownPeer{ID: p.String()}
		for _, a := range m.host.Peerstore().Addrs(p) {
			kp.Addrs = append(kp.Addrs, a.String())
		}
		if len(kp.Addrs) > 0 {
			kps = append(kps, kp)
		}
		if len(kps) == maxKnownPeers {
			break
		}
	}
	if len(kps) == 0 {
		return nil // keep what an earlier run knew
	}
	b, err := json.Marshal(kps)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(m.cfg.peersFile), 0o700); err != nil {
		return fmt.Errorf("saving known peers: %w", err)
	}
	if err := atomicfile.WriteFile(m.cfg.peersFile, b, 0o600); err != nil {
		return fmt.Errorf("saving known peers: %w", err)
	}
	return nil
}
