package award

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Session is the provider end of one award stream. Its steps come in the
// protocol's order: Serve; Decline, or Begin, then any Queued, Accept (or
// Decline), the live Log, Result, TakeReceipt; Close.
type Session struct {
	s       network.Stream
	r       *bufio.Reader
	a       job.Award
	client  peer.ID
	logs    *logStream
	watched chan struct{} // closed when the client sends or goes away
}

// Serve reads the award from the incoming award stream s (within
// AwardWait, bounded by MaxAward, validated). An award it cannot read is
// declined ("invalid award: …") and its error returned; the stream is then
// the caller's to close (Close).
func Serve(s network.Stream) (*Session, error) {
	ss := &Session{s: s, r: bufio.NewReader(s), client: s.Conn().RemotePeer()}
	_ = s.SetReadDeadline(time.Now().Add(AwardWait))
	if err := mesh.ReadMsg(ss.r, MaxAward, &ss.a); err != nil {
		_ = mesh.WriteMsg(s, job.Reply{Type: job.ReplyDeclined, Reason: "invalid award: " + err.Error()})
		return nil, fmt.Errorf("reading the award: %w", err)
	}
	return ss, nil
}

// Award is the award the session serves.
func (ss *Session) Award() *job.Award { return &ss.a }

// Client is the peer that sent the award.
func (ss *Session) Client() peer.ID { return ss.client }

// Decline answers the award with a decline for reason; the live log, if
// begun, ends first.
func (ss *Session) Decline(reason string) error {
	ss.EndLog()
	if err := mesh.WriteMsg(ss.s, job.Reply{Type: job.ReplyDeclined, Reason: reason}); err != nil {
		return fmt.Errorf("declining the award: %w", err)
	}
	return nil
}

// Begin is called once the award is admitted. From here the stream carries
// heartbeats (every HeartbeatEvery of quiet), so that the client tells a
// queued or slow job from a dead provider, and the returned context, made
// from parent, ends when the client goes away (a reset or closed stream):
// the client sends nothing more until the result, then its receipt, so any
// byte before then means it went away. cancel releases it.
func (ss *Session) Begin(parent context.Context) (ctx context.Context, cancel context.CancelFunc) {
	ctx, cancel = context.WithCancel(parent)
	_ = ss.s.SetReadDeadline(time.Time{})
	ss.watched = make(chan struct{})
	go func() {
		defer close(ss.watched)
		_, _ = ss.r.Peek(1)
		cancel()
	}()
	ss.logs = newLogStream(ss.s)
	return ctx, cancel
}

// Queued tells the client its award waits in the queue at position pos.
func (ss *Session) Queued(pos int) error {
	return ss.send(job.Reply{Type: job.ReplyQueued, Position: pos})
}

// Accept tells the client its job starts.
func (ss *Session) Accept() error { return ss.send(job.Reply{Type: job.ReplyAccepted}) }

// send writes a reply in order with the live log (Begin first).
func (ss *Session) send(r job.Reply) error {
	if ss.logs == nil {
		return fmt.Errorf("award of job %s: a %q reply before Begin", ss.a.Job, r.Type)
	}
	if err := ss.logs.Send(r); err != nil {
		return fmt.Errorf("sending the %s reply: %w", r.Type, err)
	}
	return nil
}

// Log is the run's live log: what is written to it goes to the client in
// chunks (never blocking the writer: what the stream cannot take in time is
// dropped, and a marker says so). Begin first.
func (ss *Session) Log() io.Writer {
	if ss.logs == nil {
		return io.Discard
	}
	return ss.logs
}

// EndLog sends what the live log holds and stops it and the heartbeats;
// the stream stays open for the result. Safe to call more than once.
func (ss *Session) EndLog() {
	if ss.logs != nil {
		ss.logs.Close()
	}
}

// Result ends the live log and sends the run's result (within ResultWait).
func (ss *Session) Result(res *job.Result) error {
	ss.EndLog()
	_ = ss.s.SetWriteDeadline(time.Now().Add(ResultWait))
	if err := mesh.WriteMsg(ss.s, job.Reply{Type: job.ReplyResult, Result: res}); err != nil {
		return fmt.Errorf("sending the result: %w", err)
	}
	return nil
}

// TakeReceipt is the provider's side of the receipt step, after the
// result: it reads the client's receipt (within ReceiptWait), has p check,
// counter-sign and keep it for charge, answers it counter-signed and has p
// send it to its holders. An error (the client went away, sent no receipt
// or a wrong one) is the role's cue to claim the charge.
func (ss *Session) TakeReceipt(p Payee, charge job.Credits) error {
	if ss.watched != nil {
		<-ss.watched // the receipt's first byte woke the watcher, or the client left
	}
	_ = ss.s.SetDeadline(time.Now().Add(ReceiptWait))
	var o receiptOffer
	if err := mesh.ReadMsg(ss.r, MaxReceiptOffer, &o); err != nil {
		return fmt.Errorf("reading the receipt: %w", err)
	}
	rc := o.Receipt
	if err := p.CounterSign(&rc, &ss.a, ss.client, charge); err != nil {
		return err
	}
	if err := mesh.WriteMsg(ss.s, job.Reply{Type: job.ReplyReceipt, Receipt: &rc}); err != nil {
		return fmt.Errorf("returning the counter-signed receipt: %w", err)
	}
	p.PushRecord(&rc)
	return nil
}

// Close ends the live log and closes the stream.
func (ss *Session) Close() error {
	ss.EndLog()
	return ss.s.Close()
}
