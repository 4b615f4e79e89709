package award

import (
	"bufio"

	"github.com/computemesh/computemesh/mesh"
)

// DecodeReceiptOffer reads a receipt offer as the provider end does (for
// the fuzz test).
func DecodeReceiptOffer(r *bufio.Reader) (any, error) {
	var o receiptOffer
	if err := mesh.ReadMsg(r, MaxReceiptOffer, &o); err != nil {
		return nil, err
	}
	return &o, nil
}
