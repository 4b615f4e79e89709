package award

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Protocol is the award stream's protocol name, under the network's prefix
// (mesh.Mesh.Protocol).
const Protocol = "award"

// The protocol's size limits.
const (
	// MaxAward bounds the award a provider reads.
	MaxAward = job.MaxAwardSize
	// MaxReply bounds each reply a client reads (a result carries the
	// job's captured output).
	MaxReply = job.MaxReplySize
	// MaxReceiptOffer bounds the client's receipt message.
	MaxReceiptOffer = 4 << 10
)

// The protocol's timeouts.
const (
	// HeartbeatEvery: an award stream quiet this long gets a heartbeat, so
	// the client tells a slow job from a dead provider.
	HeartbeatEvery = time.Second
	// DefaultHeartbeatTimeout is how long a client trusts a silent award
	// stream unless told otherwise (HeartbeatTimeout).
	DefaultHeartbeatTimeout = 3 * time.Second
	// AwardWait is how long a provider waits for the award once the stream
	// is open.
	AwardWait = 30 * time.Second
	// ResultWait bounds sending the result.
	ResultWait = 30 * time.Second
	// ReceiptWait is how long a provider waits for its client's receipt
	// after the result, and a client for the counter-signature.
	ReceiptWait = 30 * time.Second
	// JobSlack is how long past its job's timeout a client follows an
	// award stream at most.
	JobSlack = 2 * time.Minute
)

var (
	// ErrDeclined matches the error of a Call whose provider declined the
	// award.
	ErrDeclined = errors.New("declined")
	// ErrSilent matches the error of a Call whose provider sent nothing for
	// the heartbeat timeout: it is taken for dead.
	ErrSilent = errors.New("taken for dead")
)

// Payer is the client's side of the receipt step; *credits.Book is one.
type Payer interface {
	// SignReceipt signs a receipt paying charge for the award's attempt
	// to its provider and keeps it (durably) before it is sent.
	SignReceipt(ctx context.Context, a *job.Award, charge job.Credits) (*job.Receipt, error)
	// CheckCounterSigned checks that back is sent counter-signed by its
	// payee.
	CheckCounterSigned(sent, back *job.Receipt) error
	// PushRecord sends a receipt to its holders.
	PushRecord(rc *job.Receipt)
}

// Payee is the provider's side of the receipt step; *credits.Book is one.
type Payee interface {
	// CounterSign checks the client's receipt for the award's attempt
	// against the charge, counter-signs it (setting its PayeeSig) and keeps
	// it (durably) before it is answered.
	CounterSign(rc *job.Receipt, a *job.Award, client peer.ID, charge job.Credits) error
	// PushRecord sends a receipt to its holders.
	PushRecord(rc *job.Receipt)
}

// receiptOffer is the client's receipt, signed by it alone, as it sends it
// to the provider after the result.
type receiptOffer struct {
	Receipt job.Receipt `json:"receipt"`
}

// Validate checks the offer: every field, and the payer's signature present.
func (o *receiptOffer) Validate() error {
	if err := o.Receipt.ValidateUnsigned(); err != nil {
		return err
	}
	if len(o.Receipt.PayerSig) == 0 {
		return fmt.Errorf("payer_sig: missing")
	}
	if len(o.Receipt.PayeeSig) != 0 {
		return fmt.Errorf("payee_sig: the payee signs, not the payer")
	}
	return nil
}
