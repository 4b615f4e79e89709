package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/client"
	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
	"github.com/computemesh/computemesh/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newStart() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run a node in the foreground (provider or client)",
		Long: `Run a node in the foreground until SIGINT or SIGTERM.

A provider announces its capabilities on the DHT, bids on the jobs it can run
and runs those it wins. A client finds providers and submits jobs. Either can
be a bootstrap node: one whose address others dial first.

Settings come from flags, then MESHNODE_<FLAG> environment variables, then the
YAML file given by --config.`,
		Args: cobra.NoArgs,
		RunE: runStart,
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "directory of the node's identity key, API token and caches")
	f.StringSlice("listen", []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}, "listen multiaddrs (comma-separated)")
	f.StringSlice("bootstrap", nil, "multiaddrs of peers to dial first, ending in /p2p/<peer ID> (comma-separated)")
	f.String("network", "devnet", "network name: nodes of different networks never mix")
	f.String("mode", node.ModeProvider, "provider (sells compute) or client (buys it)")
	f.String("region", "local", "region of this provider, e.g. eu-west (jobs may require a region glob)")
	f.String("price-cpu-hour", "1", "provider's price in credits per core-hour")
	f.String("price-gpu-hour", "0", "provider's price in credits per GPU-hour")
	f.String("price-mem-gib-hour", "0", "provider's price in credits per GiB-hour of reserved memory")
	f.String("price-storage-gib-hour", "0", "provider's price in credits per GiB-hour of reserved disk (a job's resources.disk for its outputs)")
	f.StringToString("price-gpu-model", nil, "GPU-hour price per model key, e.g. h100=3.5,a100=2 (others: --price-gpu-hour)")
	f.Float64("surge", 0, "raise prices by this × the share of CPU already reserved (0: none; 1: double when full)")
	f.String("cpus", "", "cores offered at once (default: all)")
	f.String("memory", "", "memory offered at once, e.g. 8GiB (default: the machine's usable memory)")
	f.String("api", "127.0.0.1:5080", "loopback address of the local HTTP API (127.0.0.1:0 picks a free port; empty: none)")
	f.StringSlice("executors", []string{"wasm"}, "executors this provider may run: wasm, docker (offered only when its daemon answers), exec (with --exec-allow)")
	f.Int("max-jobs", 0, "the most jobs this provider runs at once (0: only its capacity limits it)")
	f.Int("queue", 0, "awarded jobs that may wait here when the provider is full: it then bids with a queue position and an estimated wait (0: it declines busy)")
	f.String("faucet", "", "peer ID of the network's faucet key: the network has credits (grants by that key alone; providers refuse clients short of the price)")
	f.Bool("test-faucet", false, "use the test networks' public faucet (test networks only)")
	f.Duration("heartbeat-timeout", node.DefaultHeartbeatTimeout, "client: a provider silent this long on a running job is taken for dead and the job fails over")
	f.StringSlice("allow-clients", nil, "serve only these client peer IDs (comma-separated; empty: everyone not denied)")
	f.StringSlice("deny-clients", nil, "never serve these client peer IDs (comma-separated)")
	f.String("price-floor", "0", "the least a job costs here, in credits, whatever its size")
	f.Int("carbon-intensity", 0, "carbon intensity of this provider's power in gCO2e/kWh (1 to 5000; 0: not declared), in its capacity record and bids; beside --carbon-forecast, for the hours the forecast does not cover")
	f.String("carbon-forecast", "", "file of this provider's carbon intensity hour by hour, kept current by its owner (read again when it changes): CSV lines HOUR,INTENSITY, e.g. 2026-03-01T14:00:00Z,120")
	f.Bool("docker-pull", false, "pull images docker jobs ask for and this host lacks (needs a reachable registry; off: such jobs are declined)")
	f.Bool("allow-job-network", false, "let docker and exec jobs that ask for it have network access (off by default)")
	f.Bool("allow-url-inputs", false, "fetch jobs' inputs given as URLs (public addresses only, checked on every connection and redirect; off by default)")
	f.StringArray("ipfs-peer", nil, "an IPFS node (MULTIADDR/p2p/PEER-ID) to keep connected to, whose blocks jobs' ipfs:// inputs may come from (repeatable)")
	f.String("max-input-size", job.FormatSize(content.MaxInputBytes), "the most this provider fetches of one job's inputs, all together (at most the default); a job with more fails, naming the limit")
	f.StringSlice("exec-allow", nil, "absolute paths of the programs exec jobs may run (the owner's allowlist; exec is off without it)")
	f.Bool("exec-unconfined", false, "where exec cannot be confined (no Landlock or user namespaces), run commands anyway, as this node's user with its files (identity key included) and network (off: exec is not offered there)")
	f.StringSlice("exec-env", nil, "environment variables exec jobs may set besides the defaults (names, or prefixes ending in *; LD_* and the like are never allowed)")
	f.Bool("mdns", false, "discover peers on the local network by multicast DNS (off by default)")
	f.Bool("json", false, "print the node's info as one JSON line once started")
	f.StringArray("simulate-gpu", nil, "test networks only: declare a GPU this provider does not have, MODEL:VRAM[:COUNT[:VENDOR]] (repeatable; also the config file's simulated: section)")
	f.Float64("simulate-score", 0, "test networks only: declare a benchmark score (SHA-256 MB/s per core) instead of the measured one")
	f.Duration("delay", 0, "test networks only: add this much to every round trip with this node (connection-level latency; TCP only)")
	f.Bool("relay-service", false, "relay (circuit v2) for peers behind NAT, e.g. on bootstrap nodes")
	f.Duration("relay-max-duration", mesh.DefaultRelayDuration, "relay service: reset a relayed connection after this long")
	f.String("relay-max-data", job.FormatSize(mesh.DefaultRelayData), "relay service: reset a relayed connection after this much data in one direction")
	f.StringSlice("relay", nil, "behind NAT: relays to reserve a slot on, multiaddrs ending in /p2p/<peer ID> (comma-separated; bootstrap nodes with --relay-service)")
	f.String("reachability", "", "override AutoNAT: private (behind NAT: use --relay) or public (dialable); empty: AutoNAT decides")
	f.String("test-identity", "", "test networks only: derive the node's key from this seed (fixed peer IDs for a testnet's bootstrap nodes; see 'meshnode identity test')")
	f.String("store-max", job.FormatSize(store.DefaultMaxBytes), "size of the content store past which the least recently used blobs nothing protects are dropped (pinned blobs, those of kept job records and those in use stay)")
	f.Duration("store-retention", store.DefaultMaxAge, "blobs nothing protects are dropped once unused this long")
	f.Float64("request-rate", mesh.DefaultRequestRate, "job requests per second this node handles and relays from one author (the signing client); the rest are ignored")
	f.Int("request-burst", mesh.DefaultRequestBurst, "job requests one author may send at once before --request-rate applies")
	f.Bool("assume-ledger-complete", false, "sign receipts even when no peer can tell which numbers this identity signed before and the ledger holds none (only for an identity that never paid, or whose ledger was moved with it: see README)")
	f.Duration("memory-trim", 30*time.Second, "how often the node hands freed heap back to the system when it holds more than 1 MiB of it (after a burst of work or a flood); 0: leave it to the Go runtime, which takes minutes")
	f.Float64("gossip-bid-rate", mesh.DefaultGossipBidRate, "answers a second this provider gossips to clients it has no connection to that ask for answers by gossip (connected clients get theirs on a stream; the others get none); past it, it does not answer them")
	f.Int("conns-per-ip", mesh.DefaultConnsPerIP, "connections accepted from one IP address at once (loopback is not limited)")
	f.Duration("bid-grace", node.DefaultBidGrace, "how long a losing bid stands after its request's bid window (backups a client holds stand until their job ends)")
	f.Int("max-auctions", client.DefaultMaxAuctions, "auctions this node runs at once as a client (1 to 4096); a job past it waits for one to end, so that a large batch never floods the providers into silence")
	f.Duration("busy-wait", client.DefaultBusyWait, "how long a job without a deadline goes on auctioning while the mesh is busy (candidates silent or declining busy) before it ends unscheduled")
	f.Bool("cpu-profile", false, "write a CPU profile of the whole run to DATA-DIR/"+cpuProfileFile+" when the node stops (go tool pprof reads it)")
	f.Bool("heap-profile", false, "write a heap profile to DATA-DIR/"+heapProfilePrefix+"N.pprof (N = 1, 2, …) each time the node gets SIGUSR1 (go tool pprof reads it)")
	f.Duration("record-ttl", node.DefaultRecordTTL, "lifetime of the provider's signed capacity record (re-signed at a third of it)")
	addMetricsFlags(f)
	return cmd
}

func runStart(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	cfg, err := startConfig(f)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if profile, _ := f.GetBool("cpu-profile"); profile {
		end, err := startCPUProfile(cfg.DataDir)
		if err != nil {
			return err
		}
		defer end()
	}
	if profile, _ := f.GetBool("heap-profile"); profile {
		end, err := startHeapProfiles(cfg.DataDir)
		if err != nil {
			return err
		}
		defer end()
	}
	n, err := node.New(ctx, cfg)
	if errors.Is(err, node.ErrConfig) {
		return usageErr("%v", err)
	}
	if err != nil {
		return netErr(fmt.Errorf("starting the node: %w", err))
	}
	defer n.Close()
	info := n.Info()
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		_ = json.NewEncoder(out).Encode(info)
	} else {
		fmt.Fprintf(out, "meshnode %s on network %s\n", info.Mode, info.Network)
		fmt.Fprintf(out, "peer ID:  %s\n", info.PeerID)
		for i, a := range info.Addrs {
			label := "listen:  "
			if i > 0 {
				label = "         "
			}
			fmt.Fprintf(out, "%s %s\n", label, a)
		}
		if info.API != "" {
			fmt.Fprintf(out, "api:      http://%s (token in %s/%s)\n", info.API, cfg.DataDir, api.TokenFile)
		}
		if a := n.MetricsAddr(); a != "" {
			fmt.Fprintf(out, "metrics:  http://%s/metrics (token in %s/%s)\n", a, cfg.DataDir, api.MetricsTokenFile)
		}
		if info.Mode == node.ModeProvider {
			printOffer(out, info)
		}
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(cmd.ErrOrStderr(), "meshnode: shutting down")
	case <-n.Drained():
		fmt.Fprintln(cmd.ErrOrStderr(), "meshnode: drained: the running jobs have finished; shutting down")
	}
	if err := n.Close(); err != nil {
		return netErr(fmt.Errorf("shutting down: %w", err))
	}
	return nil
}

// printOffer prints what a provider offers: region, price, capacity,
// exec's confinement, its declared carbon intensity and its GPUs.
func printOffer(out io.Writer, info api.Info) {
	fmt.Fprintf(out, "offer:    region %s, %s credits/core-hour, %s\n", info.Region, info.Rates.CPUHour, info.Capacity)
	if info.ExecConfinement != "" {
		fmt.Fprintf(out, "exec:     %s\n", info.ExecConfinement)
	}
	r := info.Record
	if r != nil && (r.Carbon > 0 || r.Forecast != nil) {
		fmt.Fprintf(out, "carbon:   %s\n", carbonSummary(r, time.Now()))
	}
	if r != nil && len(r.GPUs) > 0 {
		sim := ""
		if r.Simulated {
			sim = " (simulated)"
		}
		fmt.Fprintf(out, "gpus:     %s%s\n", gpuSummary(r.GPUs), sim)
	}
}

// startConfig builds the node's configuration from the flags.
func startConfig(f *pflag.FlagSet) (node.Config, error) {
	cfg := node.Config{}
	cfg.DataDir, _ = f.GetString("data-dir")
	listen, _ := f.GetStringSlice("listen")
	cfg.Listen = splitList(listen)
	boot, _ := f.GetStringSlice("bootstrap")
	cfg.Bootstrap = splitList(boot)
	cfg.Network, _ = f.GetString("network")
	cfg.Mode, _ = f.GetString("mode")
	cfg.API, _ = f.GetString("api")
	cfg.MDNS, _ = f.GetBool("mdns")
	cfg.Delay, _ = f.GetDuration("delay")
	cfg.HeartbeatTimeout, _ = f.GetDuration("heartbeat-timeout")
	if err := metricsConfig(f, &cfg); err != nil {
		return cfg, err
	}
	if err := relayAndStoreConfig(f, &cfg); err != nil {
		return cfg, err
	}
	if err := limitsConfig(f, &cfg); err != nil {
		return cfg, err
	}
	cfg.Faucet, _ = f.GetString("faucet")
	if test, _ := f.GetBool("test-faucet"); test {
		if cfg.Faucet != "" && cfg.Faucet != testfaucet.ID {
			return cfg, usageErr("--faucet and --test-faucet: give one")
		}
		cfg.Faucet = testfaucet.ID
	}
	if cfg.Mode == node.ModeProvider {
		if err := providerConfig(f, &cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// relayAndStoreConfig reads the relay service's limits and the content
// store's.
func relayAndStoreConfig(f *pflag.FlagSet, cfg *node.Config) error {
	cfg.RelayService, _ = f.GetBool("relay-service")
	cfg.RelayLimit.Duration, _ = f.GetDuration("relay-max-duration")
	if v, _ := f.GetString("relay-max-data"); v != "" {
		n, err := job.ParseSize(v)
		if err != nil {
			return usageErr("--relay-max-data: %v", err)
		}
		if n > 1<<40 {
			return usageErr("--relay-max-data: %s is over 1TiB", v)
		}
		cfg.RelayLimit.Data = int64(n)
	}
	if v, _ := f.GetString("max-input-size"); v != "" {
		n, err := job.ParseSize(v)
		if err != nil || n == 0 || n > content.MaxInputBytes {
			return usageErr("--max-input-size: %q is not a size between 1B and %s", v, job.FormatSize(content.MaxInputBytes))
		}
		cfg.MaxInputBytes = int64(n)
	}
	if v, _ := f.GetString("store-max"); v != "" {
		n, err := job.ParseSize(v)
		if err != nil || n == 0 || n > 1<<50 {
			return usageErr("--store-max: %q is not a size between 1B and 1PiB (e.g. 10GiB)", v)
		}
		cfg.StoreMaxBytes = int64(n)
	}
	if cfg.StoreRetention, _ = f.GetDuration("store-retention"); cfg.StoreRetention <= 0 {
		return usageErr("--store-retention: %v, must be positive (e.g. 168h)", cfg.StoreRetention)
	}
	return nil
}

// limitsConfig reads reachability, rate limits and memory trimming.
func limitsConfig(f *pflag.FlagSet, cfg *node.Config) error {
	relays, _ := f.GetStringSlice("relay")
	cfg.Relays = splitList(relays)
	cfg.Reachability, _ = f.GetString("reachability")
	cfg.TestIdentity, _ = f.GetString("test-identity")
	cfg.RequestRate, _ = f.GetFloat64("request-rate")
	cfg.RequestBurst, _ = f.GetInt("request-burst")
	cfg.ConnsPerIP, _ = f.GetInt("conns-per-ip")
	cfg.GossipBidRate, _ = f.GetFloat64("gossip-bid-rate")
	cfg.MemoryTrim, _ = f.GetDuration("memory-trim")
	cfg.AssumeLedgerComplete, _ = f.GetBool("assume-ledger-complete")
	if cfg.MemoryTrim < 0 {
		return usageErr("--memory-trim: must be 0 (off) or more (got %v)", cfg.MemoryTrim)
	}
	if cfg.GossipBidRate <= 0 {
		return usageErr("--gossip-bid-rate: must be above 0 (got %v)", cfg.GossipBidRate)
	}
	cfg.BidGrace, _ = f.GetDuration("bid-grace")
	cfg.MaxAuctions, _ = f.GetInt("max-auctions")
	cfg.BusyWait, _ = f.GetDuration("busy-wait")
	if cfg.MaxAuctions < 1 || cfg.MaxAuctions > 4096 {
		return usageErr("--max-auctions: want 1 to 4096, got %d", cfg.MaxAuctions)
	}
	if cfg.BusyWait <= 0 {
		return usageErr("--busy-wait: must be above 0 (got %v)", cfg.BusyWait)
	}
	if cfg.RequestRate <= 0 || cfg.RequestBurst < 1 {
		return usageErr("--request-rate, --request-burst: must be above 0 (got %v and %d)", cfg.RequestRate, cfg.RequestBurst)
	}
	return nil
}

// providerConfig reads a provider's prices, capacity, executors, clients
// and simulated hardware.
func providerConfig(f *pflag.FlagSet, cfg *node.Config) error {
	cfg.Region, _ = f.GetString("region")
	if err := priceConfig(f, cfg); err != nil {
		return err
	}
	var err error
	if s, _ := f.GetString("cpus"); s != "" {
		if cfg.Capacity.CPUMillis, err = job.ParseCPUs(s); err != nil {
			return usageErr("--cpus: %v", err)
		}
	}
	if s, _ := f.GetString("memory"); s != "" {
		if cfg.Capacity.MemoryBytes, err = job.ParseSize(s); err != nil {
			return usageErr("--memory: %v", err)
		}
	}
	cfg.RecordTTL, _ = f.GetDuration("record-ttl")
	carbon, _ := f.GetInt("carbon-intensity")
	if cfg.CarbonIntensity = job.Intensity(carbon); cfg.CarbonIntensity.Validate() != nil {
		return usageErr("--carbon-intensity: %v", cfg.CarbonIntensity.Validate())
	}
	cfg.CarbonForecast, _ = f.GetString("carbon-forecast")
	execs, _ := f.GetStringSlice("executors")
	cfg.Executors = splitList(execs)
	allow, _ := f.GetStringSlice("exec-allow")
	cfg.ExecAllow = splitList(allow)
	cfg.ExecUnconfined, _ = f.GetBool("exec-unconfined")
	envs, _ := f.GetStringSlice("exec-env")
	cfg.ExecEnv = splitList(envs)
	cfg.AllowJobNetwork, _ = f.GetBool("allow-job-network")
	cfg.AllowURLInputs, _ = f.GetBool("allow-url-inputs")
	cfg.IPFSPeers, _ = f.GetStringArray("ipfs-peer")
	cfg.DockerPull, _ = f.GetBool("docker-pull")
	cfg.MaxJobs, _ = f.GetInt("max-jobs")
	cfg.Queue, _ = f.GetInt("queue")
	al, _ := f.GetStringSlice("allow-clients")
	dl, _ := f.GetStringSlice("deny-clients")
	cfg.AllowClients, cfg.DenyClients = splitList(al), splitList(dl)
	return simulatedConfig(f, cfg)
}

// priceConfig reads a provider's prices.
func priceConfig(f *pflag.FlagSet, cfg *node.Config) error {
	var err error
	for _, p := range []struct {
		flag string
		to   *job.Credits
	}{
		{"price-cpu-hour", &cfg.Rates.CPUHour}, {"price-gpu-hour", &cfg.Rates.GPUHour},
		{"price-mem-gib-hour", &cfg.Rates.MemGiBHour}, {"price-storage-gib-hour", &cfg.Rates.StorageGiBHour},
		{"price-floor", &cfg.PriceFloor},
	} {
		v, _ := f.GetString(p.flag)
		if *p.to, err = job.ParseCredits(v); err != nil {
			return usageErr("--%s: %v", p.flag, err)
		}
	}
	models, _ := f.GetStringToString("price-gpu-model")
	for m, v := range models {
		r, err := job.ParseCredits(v)
		if err != nil {
			return usageErr("--price-gpu-model %s: %v", m, err)
		}
		if cfg.GPURates == nil {
			cfg.GPURates = map[string]job.Credits{}
		}
		cfg.GPURates[job.ModelKey(m)] = r
	}
	cfg.Surge, _ = f.GetFloat64("surge")
	return nil
}

// simulatedConfig reads the hardware a test network's provider declares:
// the config file's simulated: section, then --simulate-gpu and
// --simulate-score.
func simulatedConfig(f *pflag.FlagSet, cfg *node.Config) error {
	path, _ := f.GetString("config")
	var err error
	if cfg.Simulated, err = readSimulated(path); err != nil {
		return err
	}
	gpus, _ := f.GetStringArray("simulate-gpu")
	score, _ := f.GetFloat64("simulate-score")
	if len(gpus) == 0 && score <= 0 {
		return nil
	}
	if cfg.Simulated == nil {
		cfg.Simulated = &node.Simulated{}
	}
	for _, g := range gpus {
		parsed, err := parseSimulatedGPU(g)
		if err != nil {
			return usageErr("--simulate-gpu: %v", err)
		}
		cfg.Simulated.GPUs = append(cfg.Simulated.GPUs, parsed...)
	}
	if score > 0 {
		cfg.Simulated.Score = &job.Score{HashMBps: score}
	}
	return nil
}
