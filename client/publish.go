package client

import (
	"context"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
)

// publishOutputs keeps a job's fetched outputs (pinned) and makes them
// public (job.Spec.Publish): served to whoever asks, announced. They were
// fetched with every block from the provider (Content.FetchFrom): a
// provider answering with the CID of something this node holds privately
// fails the fetch, and publishes nothing.
func (c *Client) publishOutputs(ctx context.Context, s *job.Spec, root string) {
	id, err := job.ParseCID(root)
	if err != nil {
		return
	}
	st, err := c.content.Stat(ctx, id, content.OutputsBudget(s.Resources.DiskBytes))
	if err == nil {
		err = c.store.PinPublished(id) // served and announced again after a restart
	}
	if err != nil {
		c.log.Warnw("publishing the outputs", "cid", root, "err", err)
		return
	}
	blocks := make([]string, 0, len(st.Blocks))
	for _, b := range st.Blocks {
		blocks = append(blocks, b.String())
	}
	c.publish(root, blocks)
}
