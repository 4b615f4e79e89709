package main

import (
	"errors"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/node"
	"github.com/spf13/pflag"
)

// addMetricsFlags adds start's metrics listener flags.
func addMetricsFlags(f *pflag.FlagSet) {
	f.String("metrics-listen", "", "address of a listener serving GET /metrics alone, behind its own token (DATA-DIR/"+api.MetricsTokenFile+"), for a Prometheus scraper; loopback unless --metrics-public (empty: none; the API's /metrics stays)")
	f.Bool("metrics-public", false, "let --metrics-listen bind to a non-loopback address (e.g. 0.0.0.0:9464): the owner's choice to expose the node's metrics, still behind the metrics token")
}

// metricsConfig reads the metrics listener's flags; a non-loopback address
// without --metrics-public is a usage error naming the flag.
func metricsConfig(f *pflag.FlagSet, cfg *node.Config) error {
	cfg.MetricsListen, _ = f.GetString("metrics-listen")
	cfg.MetricsPublic, _ = f.GetBool("metrics-public")
	if cfg.MetricsListen == "" {
		return nil
	}
	if err := api.CheckMetricsAddr(cfg.MetricsListen, cfg.MetricsPublic); errors.Is(err, api.ErrMetricsNotLoopback) {
		return usageErr("--metrics-listen %s: not a loopback address; add --metrics-public to serve the node's metrics beyond this machine", cfg.MetricsListen)
	} else if err != nil {
		return usageErr("--metrics-listen: %v", err)
	}
	return nil
}
