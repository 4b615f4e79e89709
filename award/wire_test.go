package award_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// oversized is the header of a frame announcing n bytes, and a few of them.
func oversized(n int) []byte {
	return append(binary.AppendUvarint(nil, uint64(n)), "{}"...)
}

// An award the provider cannot read is declined with why, and Serve says
// so.
func TestServeRefusesBadAwards(t *testing.T) {
	tests := []struct {
		name string
		send func(p *pair, s network.Stream) error
		want string
	}{
		{"oversized", func(_ *pair, s network.Stream) error {
			_, err := s.Write(oversized(award.MaxAward + 1))
			return err
		}, "exceeds the limit of 4194304"},
		{"invalid", func(p *pair, s network.Stream) error {
			a := p.testAward()
			a.V = 99
			return mesh.WriteMsg(s, a)
		}, "v: version 99"},
		{"not JSON", func(_ *pair, s network.Stream) error { return mesh.WriteFrame(s, []byte("award")) }, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, func(s network.Stream) error {
				defer s.Close()
				_, err := award.Serve(s)
				return err
			})
			s := p.open(t)
			defer s.Close()
			if err := tt.send(p, s); err != nil {
				t.Fatal(err)
			}
			if err := p.handlerErr(t); err == nil || !strings.Contains(err.Error(), "reading the award") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve: %v, want %q", err, tt.want)
			}
			var reply job.Reply
			if err := mesh.ReadMsg(bufio.NewReader(s), award.MaxReply, &reply); err != nil {
				t.Fatal(err)
			}
			if reply.Type != job.ReplyDeclined || !strings.HasPrefix(reply.Reason, "invalid award: ") || !strings.Contains(reply.Reason, tt.want) {
				t.Fatalf("reply %+v, want a decline for an invalid award (%s)", reply, tt.want)
			}
		})
	}
}

// A reply the client cannot read, or one out of the protocol's order, ends
// the call with why.
func TestCallRefusesBadReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(a *job.Award) []byte
		want  string
	}{
		{"oversized", func(*job.Award) []byte { return oversized(award.MaxReply + 1) }, "exceeds the limit of 8388608"},
		{"unknown type", func(*job.Award) []byte { return frame(job.Reply{Type: "bogus"}) }, `type: "bogus" is not one of`},
		{"log before acceptance", func(*job.Award) []byte { return frame(job.Reply{Type: job.ReplyLog, Log: []byte("x")}) }, `unexpected reply "log"`},
		{"result of another job", func(a *job.Award) []byte {
			res := result(a)
			res.Provider = a.Client
			return append(frame(job.Reply{Type: job.ReplyAccepted}), frame(job.Reply{Type: job.ReplyResult, Result: res})...)
		}, "does not match the award"},
		{"accepted twice", func(*job.Award) []byte {
			return append(frame(job.Reply{Type: job.ReplyAccepted}), frame(job.Reply{Type: job.ReplyAccepted})...)
		}, `unexpected reply "accepted" instead of a result`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, func(s network.Stream) error {
				defer s.Close()
				ss, err := award.Serve(s)
				if err != nil {
					return err
				}
				_, err = s.Write(tt.reply(ss.Award()))
				return err
			})
			call, err := award.Request(context.Background(), p.open(t), p.testAward())
			if err != nil {
				t.Fatal(err)
			}
			defer call.Close()
			if _, err := call.Result(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Result: %v, want %q", err, tt.want)
			}
			if err := p.handlerErr(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func frame(v any) []byte {
	var b bytes.Buffer
	if err := mesh.WriteMsg(&b, v); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// FuzzDecoders feeds the protocol's three decoders (the award, a reply,
// the receipt offer, each bounded by its limit) arbitrary stream bytes:
// they never panic, and what one accepts encodes back into something it
// accepts again.
func FuzzDecoders(f *testing.F) {
	a := &job.Award{V: job.Version, Job: "bafkreiabc", Client: "c", Nonce: []byte("n")}
	f.Add(uint8(0), frame(a))
	f.Add(uint8(1), frame(job.Reply{Type: job.ReplyQueued, Position: 3}))
	f.Add(uint8(1), frame(job.Reply{Type: job.ReplyLog, Log: []byte("hello\n")}))
	f.Add(uint8(1), frame(job.Reply{Type: job.ReplyResult, Result: &job.Result{Job: "bafkreiabc", Charge: 5}}))
	f.Add(uint8(1), frame(job.Reply{Type: job.ReplyResult, Result: &job.Result{Job: "bafkreiabc", Charge: 5, Task: 17}}))
	arr := &job.Award{V: job.Version, Job: "bafkreiabc", Client: "c", Nonce: []byte("n"), Spec: job.Spec{Count: 8}, Tasks: []int{0, 3, 7}}
	f.Add(uint8(0), frame(arr))
	f.Add(uint8(2), frame(map[string]any{"receipt": map[string]any{"v": job.Version, "seq": 1}}))
	f.Add(uint8(1), oversized(award.MaxReply+1))
	f.Add(uint8(0), []byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		decode := func(b []byte) (any, error) {
			r := bufio.NewReader(bytes.NewReader(b))
			switch kind % 3 {
			case 0:
				var v job.Award
				return &v, mesh.ReadMsg(r, award.MaxAward, &v)
			case 1:
				var v job.Reply
				return &v, mesh.ReadMsg(r, award.MaxReply, &v)
			default:
				return award.DecodeReceiptOffer(r)
			}
		}
		v, err := decode(data)
		if err != nil {
			return
		}
		if a, ok := v.(*job.Award); ok && a.Spec.IsArray() != (len(a.Tasks) > 0) {
			t.Fatalf("accepted an award of %d tasks for a spec of count %d", len(a.Tasks), a.Spec.Count)
		}
		if r, ok := v.(*job.Reply); ok && r.Result != nil && (r.Result.Task < 0 || r.Result.Task >= job.MaxCount) {
			t.Fatalf("accepted a result for task %d", r.Result.Task)
		}
		if _, err := decode(frame(v)); err != nil {
			t.Fatalf("%T decoded, then its encoding refused: %v", v, err)
		}
	})
}

// A receipt offer over MaxReceiptOffer, or one the payer did not sign, is
// refused before the payee sees it.
func TestTakeReceiptRefusesBadOffers(t *testing.T) {
	tests := []struct {
		name  string
		offer func(a *job.Award) []byte
		want  string
	}{
		{"oversized", func(*job.Award) []byte { return oversized(award.MaxReceiptOffer + 1) }, "exceeds the limit of 4096"},
		{"unsigned", func(a *job.Award) []byte {
			rc, _ := (&books{}).SignReceipt(context.Background(), a, 700)
			rc.PayerSig = nil
			return frame(map[string]any{"receipt": rc})
		}, "payer_sig: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payee := &books{}
			p := newPair(t, run(payee, nil, ""))
			s := p.open(t)
			a := p.testAward()
			call, err := award.Request(context.Background(), s, a)
			if err != nil {
				t.Fatal(err)
			}
			defer call.Close()
			if _, err := call.Result(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(tt.offer(a)); err != nil {
				t.Fatal(err)
			}
			if err := p.handlerErr(t); err == nil || !strings.Contains(err.Error(), "reading the receipt") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("provider end: %v, want %q", err, tt.want)
			}
			if len(payee.pushed) != 0 {
				t.Fatalf("the payee pushed %d receipts", len(payee.pushed))
			}
		})
	}
}
