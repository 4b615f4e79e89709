package mesh

import (
	"context"
	"fmt"

	"github.com/computemesh/computemesh/job"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxLedgerMsg bounds a message on the ledger topic (a fraud proof holds
// two records).
const MaxLedgerMsg = 16 << 10

// LedgerMsg is what the ledger topic carries: exactly one of a fraud proof
// or a grant (published by anyone who has one: each is checked on its own
// signatures). Receipts are not gossiped: they go to their accounts'
// holders (see the ledger package), so that no node handles every receipt
// of the network.
type LedgerMsg struct {
	V     int             `json:"v"`
	Fraud *job.FraudProof `json:"fraud,omitempty"`
	Grant *job.Grant      `json:"grant,omitempty"`
}

// Validate checks that m holds exactly one valid record.
func (m *LedgerMsg) Validate() error {
	if m.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", m.V, job.Version)
	}
	n := 0
	for _, set := range []bool{m.Fraud != nil, m.Grant != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("a ledger message holds exactly one of fraud, grant (it holds %d)", n)
	}
	switch {
	case m.Fraud != nil:
		return m.Fraud.Validate()
	default:
		return m.Grant.Validate()
	}
}

// LedgerHandler receives each valid ledger message.
type LedgerHandler func(m *LedgerMsg, from peer.ID)

func (t *topics) joinLedger(m *Mesh) error {
	name := m.TopicName("ledger")
	err := m.ps.RegisterTopicValidator(name, t.validator(nil, nil, func(b []byte, from peer.ID) (any, string) {
		var msg LedgerMsg
		if err := job.Decode(b, MaxLedgerMsg, &msg); err != nil {
			log.Debugw("dropping a ledger message", "peer", from, "reason", DropDecode, "err", err)
			return nil, DropDecode
		}
		return &msg, ""
	}), pubsub.WithValidatorInline(true))
	if err != nil {
		return errorf("registering %s validator: %w", name, err)
	}
	if t.ledger, err = m.ps.Join(name); err != nil {
		return errorf("joining %s: %w", name, err)
	}
	return nil
}

// OnLedger subscribes to the ledger topic and hands each valid message to h.
func (m *Mesh) OnLedger(h LedgerHandler) error {
	t := m.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subscribeLocked(t.ledger, &t.ledgerSub, func(v any, from peer.ID) {
		if msg, ok := v.(*LedgerMsg); ok {
			h(msg, from)
		}
	})
}

// PublishLedger gossips a ledger message.
func (m *Mesh) PublishLedger(ctx context.Context, msg *LedgerMsg) error {
	msg.V = job.Version
	if err := m.topics.ledger.Publish(ctx, job.Encode(msg)); err != nil {
		return errorf("publishing on the ledger topic: %w", err)
	}
	return nil
}
