package mesh

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// KeyFile is the name of the node's identity key inside its data directory.
const KeyFile = "identity.key"

// LoadOrCreateKey returns the Ed25519 identity kept in dir/identity.key,
// creating it (mode 0600, atomically and durably) on first use.
func LoadOrCreateKey(dir string) (crypto.PrivKey, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("identity key %s: %w", path, err)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading identity key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating identity key: %w", err)
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding identity key: %w", err)
	}
	// Durably (fsynced, with its directory): the key holds the node's
	// credits, and a key lost in a crash after the node used it is lost
	// for good.
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	return k, nil
}

// keyExportHeader starts an exported identity: the format's name, then the
// key (libp2p's protobuf encoding) in base64 on one line.
const keyExportHeader = "computemesh-identity-v1"

// ExportKey returns the identity key of dir in its export format, and its
// peer ID. It never creates a key.
func ExportKey(dir string) ([]byte, peer.ID, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading identity key: %w", err)
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("identity key %s: %w", path, err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return nil, "", fmt.Errorf("identity key %s: %w", path, err)
	}
	return []byte(keyExportHeader + "\n" + base64.StdEncoding.EncodeToString(b) + "\n"), id, nil
}

// ParseExportedKey reads an identity in export format (an Ed25519 key).
func ParseExportedKey(exported []byte) (crypto.PrivKey, peer.ID, error) {
	header, body, ok := strings.Cut(strings.TrimSpace(string(exported)), "\n")
	if !ok || strings.TrimSpace(header) != keyExportHeader {
		return nil, "", fmt.Errorf("not an exported identity: the first line must be %q", keyExportHeader)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(body))
	if err != nil {
		return nil, "", fmt.Errorf("exported identity: the key is not base64: %w", err)
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("exported identity: %w", err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, "", fmt.Errorf("exported identity: a %s key; nodes use Ed25519", k.Type())
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return nil, "", fmt.Errorf("exported identity: %w", err)
	}
	return k, id, nil
}

// ImportKey installs an exported identity as dir's key. It refuses to
// overwrite an existing key (the key holds the node's credits), and checks
// the key before writing it (mode 0600, fsynced with its directory). It
// creates the file exclusively rather than by rename (package atomicfile)
// so that a key that appears meanwhile is never replaced.
func ImportKey(dir string, exported []byte) (peer.ID, error) {
	k, id, err := ParseExportedKey(exported)
	if err != nil {
		return "", err
	}
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("exported identity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating data dir: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%s already holds an identity key: it is never overwritten (move it away first, after exporting it)", path)
	}
	if err != nil {
		return "", fmt.Errorf("writing identity key: %w", err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("writing identity key: %w", err)
	}
	// The key is complete and fsynced; its name must survive a crash too.
	if err := atomicfile.SyncDir(dir); err != nil {
		return "", fmt.Errorf("writing identity key %s: %w", path, err)
	}
	return id, nil
}

// TestKey derives an Ed25519 key from seed: fixed peer IDs for a test
// network's bootstrap nodes. Anyone can derive it, so it identifies nothing
// outside test networks (callers refuse it there).
func TestKey(seed string) crypto.PrivKey {
	sum := sha256.Sum256([]byte("computemesh test identity\x00" + seed))
	k, _, err := crypto.GenerateEd25519Key(bytes.NewReader(sum[:]))
	if err != nil {
		panic(fmt.Sprintf("mesh: deriving a test key: %v", err)) // reading 32 bytes from a slice cannot fail
	}
	return k
}
