// Package award is the award protocol, both of its ends, as one package
// (like a go-libp2p protocol): the stream a client opens to the bidder it
// awards a job to, under the mesh's prefix as Protocol.
//
// It owns every message and every step on that stream:
//
//	client                                   provider
//	  ── award ─────────────────────────────►  read (bounded, validated)
//	  ◄─ declined{reason}                      (Session.Decline), or
//	  ◄─ queued{position} / heartbeat …        (Session.Queued, heartbeats)
//	  ◄─ accepted                              (Session.Accept)
//	  ◄─ log{chunk} / heartbeat …              (Session.Log: the live log)
//	  ◄─ result{result}                        (Session.Result)
//	  ── receiptOffer{receipt} ─────────────►  (Call.Pay / Session.TakeReceipt)
//	  ◄─ receipt{counter-signed}
//
// The client end is a Call (Request, Call.Result, Call.Pay): it sends the
// award, follows the replies (a decline is an error matching ErrDeclined; a
// stream silent for the heartbeat timeout one matching ErrSilent), returns
// the result, then offers the receipt. The provider end is a Session (Serve
// and its methods): it reads the award, answers it, streams the live log
// with heartbeats, notices the client going away, returns the result and
// takes the receipt.
//
// The messages are JSON frames (mesh.WriteMsg, mesh.ReadMsg) of job's wire
// types (job.Award, job.Reply) and the receipt offer. What a receipt says
// and who signs it are not the protocol's: signing, checking and recording
// receipts are a Payer's (the client's) and a Payee's (the provider's),
// which *credits.Book is. The roles (client, provider) keep what they
// decide: whom to award, failover, reservations, runs, claims, metrics.
package award
