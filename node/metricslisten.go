package node

import (
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/api"
)

// checkMetrics checks the metrics listener's settings: it needs a data
// dir (for its token) and, unless made public, a loopback address.
func (c *Config) checkMetrics() error {
	if c.MetricsListen == "" {
		if c.MetricsPublic {
			return fmt.Errorf("metrics-public: given without a metrics-listen address")
		}
		return nil
	}
	if c.DataDir == "" {
		return fmt.Errorf("metrics-listen: a node with a metrics listener needs a data dir for its token")
	}
	if err := api.CheckMetricsAddr(c.MetricsListen, c.MetricsPublic); err != nil {
		return fmt.Errorf("metrics-listen: %w", err)
	}
	return nil
}

// startMetricsIfAsked starts the metrics listener on cfg.MetricsListen, if
// set: GET /metrics alone, behind the token in DataDir/metrics.token.
func (n *Node) startMetricsIfAsked() error {
	if n.cfg.MetricsListen == "" {
		return nil
	}
	srv, err := api.ListenMetrics(n.cfg.MetricsListen, n.cfg.DataDir, n.cfg.MetricsPublic, n.metrics.listenerHandler())
	if errors.Is(err, api.ErrMetricsNotLoopback) {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err != nil {
		return fmt.Errorf("starting the metrics listener: %w", err)
	}
	n.metricsSrv = srv
	return nil
}

// MetricsAddr returns the address of the node's metrics listener ("" for
// none).
func (n *Node) MetricsAddr() string {
	if n.metricsSrv == nil {
		return ""
	}
	return n.metricsSrv.Addr()
}
