package ledger

import (
	"fmt"

	"github.com/computemesh/computemesh/job"
)

// Group commit. A writer checks its record, writes it and applies it to
// the book under Ledger.mu, then waits, without the lock, until an fsync
// covers the bytes it wrote: one fsync for every writer that wrote while
// the previous one ran (with 64 jobs in flight a client's authorisations
// and receipts shared a handful of fsyncs instead of one each). What a
// writer acknowledges is still on disk before it returns: an fsync issued
// for a later writer covers the earlier bytes of the same file. Another
// writer may see a record in the book before it is durable; it can act
// outside this node only once its own record, written after, is durable,
// and so the first one. A write that fails is cut back and leaves the book
// as it was (a full disk); an fsync that fails leaves the ledger broken (no
// more writes: the book holds records the disk may not), and every writer
// waiting on it gets the error.

// durably runs op under l.mu (it checks, writes and applies), then waits
// until the file is synced up to where op left it.
func (l *Ledger) durably(op func() error) error {
	l.mu.Lock()
	err := op()
	end := l.size
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return l.syncTo(end)
}

// syncTo returns once the log is fsynced up to offset end at least,
// fsyncing it (everything written so far) if no other writer has.
func (l *Ledger) syncTo(end int64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if l.synced >= end {
		l.mu.Unlock()
		return nil
	}
	if l.broken != nil {
		err := l.broken
		l.mu.Unlock()
		return fmt.Errorf("ledger %s: unusable after an earlier write failure: %w", l.path, err)
	}
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("ledger %s: closed before its records up to offset %d were synced", l.path, end)
	}
	f, target := l.f, l.size
	l.mu.Unlock()
	err := f.Sync()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.broken = fmt.Errorf("ledger %s: syncing its records up to offset %d: %w", l.path, target, err)
		return l.broken
	}
	l.synced = max(l.synced, target)
	return nil
}

// checkSigner makes sure, once per account, that this node's signer makes
// signatures that verify for it (a node signing with another key than its
// ledger's account would write records that every peer refuses); after
// that, what this node signs for account is not verified again.
func (l *Ledger) checkSigner(account string, msg, sig []byte) error {
	l.signersMu.Lock()
	ok := l.signers[account]
	l.signersMu.Unlock()
	if ok {
		return nil
	}
	if err := l.cfg.verify(account, msg, sig); err != nil {
		return reject("this node's signature does not verify for its account %s: %v", account, err)
	}
	l.signersMu.Lock()
	if l.signers == nil {
		l.signers = map[string]bool{}
	}
	l.signers[account] = true
	l.signersMu.Unlock()
	return nil
}

// checkOwnAuthorization is VerifyAuthorization for one this node has just
// signed (see checkSigner).
func (l *Ledger) checkOwnAuthorization(a *job.Authorization) error {
	if err := a.Validate(); err != nil {
		return reject("authorization: %v", err)
	}
	if a.Network != l.cfg.network {
		return reject("authorization: network: %q is not this network %q", a.Network, l.cfg.network)
	}
	return l.checkSigner(a.Payer, a.SigningBytes(), a.Sig)
}
