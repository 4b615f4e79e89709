package client

import (
	"bytes"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// heldModule returns the bytes of module held by this node (its client's
// cache, else its store), checked against the CID: a submission that
// names its module without its bytes.
func (c *Client) heldModule(module string) ([]byte, error) {
	if b, ok := c.blobs.Get(module); ok && job.ModuleCID(b).String() == module {
		return b, nil
	}
	mc, err := cid.Decode(module)
	if err != nil {
		return nil, fmt.Errorf("%q is not a CID: %v", module, err)
	}
	if c.store == nil {
		return nil, fmt.Errorf("%s: no bytes sent, and this node keeps no store to take them from", module)
	}
	b, err := c.store.Get(mc) // verified against mc
	if err != nil {
		return nil, fmt.Errorf("%s: no bytes sent, and this node's store cannot give them: %v (send the module, or add it to the node's store first)", module, err)
	}
	return b, nil
}

// checkSubmission validates a submission before anything is sent.
func (c *Client) checkSubmission(sub *Submission) error {
	s := sub.Spec
	if s == nil {
		return fmt.Errorf("%w: no spec", ErrBadSubmission)
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSubmission, err)
	}
	if s.Executor == job.ExecutorWASM {
		byRef := len(sub.Module) == 0 && s.Module != ""
		if byRef {
			// Sent by reference: a module this node holds (meshnode submit
			// stores it in the node's data dir and sends its CID only).
			b, err := c.heldModule(s.Module)
			if err != nil {
				return fmt.Errorf("%w: module: %v", ErrBadSubmission, err)
			}
			sub.Module = b
		}
		if err := executor.ValidateWASM(sub.Module); err != nil {
			return fmt.Errorf("%w: module: %v", ErrBadSubmission, err)
		}
		// Hashing a module costs about 1 ms per 2.5 MB: skip it when the same
		// bytes are already held under this CID (resubmissions of one module)
		// or heldModule has just checked them.
		if held, ok := c.blobs.Get(s.Module); !byRef && (!ok || !bytes.Equal(held, sub.Module)) {
			if got := job.ModuleCID(sub.Module).String(); got != s.Module {
				return fmt.Errorf("%w: module: the bytes hash to %s, the spec names %s", ErrBadSubmission, got, s.Module)
			}
		}
	} else if len(sub.Module) > 0 {
		return fmt.Errorf("%w: module: a %s job has no module", ErrBadSubmission, s.Executor)
	}
	if _, err := c.content.InputBlobs(s.Inputs); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSubmission, err)
	}
	if err := job.ValidateSecrets(sub.Secrets); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSubmission, err)
	}
	if !sub.NotBefore.IsZero() && sub.NotBefore.After(c.now().Add(job.MaxDefer)) {
		return fmt.Errorf("%w: not before: %s is more than %v from now", ErrBadSubmission, sub.NotBefore.Format(time.RFC3339), job.MaxDefer)
	}
	if !sub.NotBefore.IsZero() && !sub.Deadline.IsZero() && sub.NotBefore.After(sub.Deadline) {
		return fmt.Errorf("%w: not before: %s is after the deadline %s", ErrBadSubmission, sub.NotBefore.Format(time.RFC3339), sub.Deadline.Format(time.RFC3339))
	}
	if sub.MaxWait < 0 {
		return fmt.Errorf("%w: max wait: %v is negative", ErrBadSubmission, sub.MaxWait)
	}
	if s.Replicas > 1 && !s.Deterministic && s.Executor == job.ExecutorWASM {
		return fmt.Errorf("%w: replicas: %d replicas of a wasm job compare outputs, so the job must be deterministic (--deterministic, or deterministic: true in a spec)", ErrBadSubmission, s.Replicas)
	}
	return nil
}
