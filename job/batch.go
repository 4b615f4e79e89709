package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// A jobs topic message carries one Request, or a RequestBatch: several
// requests of one client gathered into one message. Every node of the
// network checks a gossiped message's signature and handles it, so a busy
// client that publishes its requests in batches costs each node one
// signature check and one message for many jobs.

// MaxBatchRequests is the most requests one RequestBatch may carry; the
// whole message is bounded by MaxGossipSize too.
const MaxBatchRequests = 64

// RequestBatch is the batched form of a jobs topic message.
type RequestBatch struct {
	V        int       `json:"v"`
	Requests []Request `json:"requests"`
}

// Validate checks every request of b and that they are one client's, for
// different jobs.
func (b *RequestBatch) Validate() error {
	if b.V != Version {
		return fmt.Errorf("v: version %d, want %d", b.V, Version)
	}
	if len(b.Requests) == 0 || len(b.Requests) > MaxBatchRequests {
		return fmt.Errorf("requests: %d, want 1 to %d", len(b.Requests), MaxBatchRequests)
	}
	seen := make(map[string]bool, len(b.Requests))
	for i := range b.Requests {
		r := &b.Requests[i]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("requests[%d]: %w", i, err)
		}
		if r.Client != b.Requests[0].Client {
			return fmt.Errorf("requests[%d]: client %s is not requests[0]'s client %s", i, r.Client, b.Requests[0].Client)
		}
		if seen[r.Job] {
			return fmt.Errorf("requests[%d]: job %s appears twice", i, r.Job)
		}
		seen[r.Job] = true
	}
	return nil
}

// jobsMessage decodes either form: a request's fields, or v and requests.
type jobsMessage struct {
	Request
	Requests []Request `json:"requests"`
}

// DecodeRequests decodes a jobs topic message of at most limit bytes —
// one request or a batch — and checks every field.
func DecodeRequests(b []byte, limit int) ([]*Request, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("message of %d bytes exceeds the limit of %d", len(b), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m jobsMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding a jobs message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding a jobs message: trailing data after the message")
	}
	if m.Requests == nil {
		if err := m.Request.Validate(); err != nil {
			return nil, fmt.Errorf("invalid request: %w", err)
		}
		return []*Request{&m.Request}, nil
	}
	if !reflect.DeepEqual(m.Request, Request{V: m.V}) {
		return nil, errors.New("invalid batch: fields of a single request beside requests")
	}
	batch := RequestBatch{V: m.V, Requests: m.Requests}
	if err := batch.Validate(); err != nil {
		return nil, fmt.Errorf("invalid batch: %w", err)
	}
	out := make([]*Request, len(m.Requests))
	for i := range m.Requests {
		out[i] = &m.Requests[i]
	}
	return out, nil
}

// EncodeRequests encodes encoded requests (each Encode(Request)) as one
// jobs topic message: the request itself when there is one, else a batch.
func EncodeRequests(encoded [][]byte) []byte {
	if len(encoded) == 1 {
		return encoded[0]
	}
	n := 32
	for _, e := range encoded {
		n += len(e) + 1
	}
	out := make([]byte, 0, n)
	out = fmt.Appendf(out, `{"v":%d,"requests":[`, Version)
	for i, e := range encoded {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e...)
	}
	return append(out, "]}"...)
}

// BatchSize is the size of the batch EncodeRequests makes of requests
// whose encodings add up to total bytes.
func BatchSize(count, total int) int {
	if count <= 1 {
		return total
	}
	return len(fmt.Sprintf(`{"v":%d,"requests":[]}`, Version)) + total + count - 1
}
