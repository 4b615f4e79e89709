package credits

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
)

// Sign signs data with this node's identity key (its host's private key).
func (b *Book) Sign(data []byte) ([]byte, error) {
	k := b.mesh.Host().Peerstore().PrivKey(b.self)
	if k == nil {
		return nil, errors.New("no private key for this node's identity")
	}
	return k.Sign(data)
}

// SignGrant makes a grant of amount to peer to, signed by the faucet key
// (in export format), for network.
func SignGrant(faucetKey []byte, network, to string, amount job.Credits) (*job.Grant, error) {
	k, id, err := mesh.ParseExportedKey(faucetKey)
	if err != nil {
		return nil, fmt.Errorf("faucet key: %w", err)
	}
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	g := &job.Grant{V: job.Version, Network: network, To: to, Amount: amount, Nonce: hex.EncodeToString(nonce),
		TimeMS: time.Now().UnixMilli(), Faucet: id.String()}
	if err := g.ValidateUnsigned(); err != nil {
		return nil, err
	}
	if g.Sig, err = k.Sign(g.SigningBytes()); err != nil {
		return nil, fmt.Errorf("signing the grant: %w", err)
	}
	return g, g.Validate()
}
