package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

func newDemo() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a 5-node mesh on loopback and route jobs through its auction",
		Long: `Start 1 client and 4 providers in this process, real libp2p hosts on
127.0.0.1 with different prices, regions, injected delays and (simulated,
declared on a test network) GPUs and carbon intensities (self-declared); grant
the client credits from the test network's faucet; and run the bundled hello
WASM job six times: with policy cost, with policy latency, with policy green
(the lowest estimated emissions), with a region constraint (eu-*), with a GPU
model (h100, on the GPU jobs topic), and with policy balanced in a
second-price auction. Each shows the bids and declines with their prices and
intensities, the winner and why, and the result; the end shows the client's
ledger: what each job paid, by signed receipts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, cmd.OutOrStdout())
		},
	}
}

// demoNetwork is a test network: its providers may declare (simulated) GPUs.
const demoNetwork = "test-demo"

var demoProviders = []struct {
	region, rate string
	gpus         []job.GPU     // simulated
	delay        time.Duration // injected at the connection level
	carbon       job.Intensity // declared, gCO2e/kWh
}{
	{"us-east", "1.20", []job.GPU{demoGPU("NVIDIA H100 80GB HBM3", 80), demoGPU("NVIDIA H100 80GB HBM3", 80)}, 12 * time.Millisecond, 380},
	{"eu-west", "0.90", []job.GPU{demoGPU("NVIDIA A100-SXM4-40GB", 40)}, 2 * time.Millisecond, 240},
	{"eu-central", "0.70", nil, 5 * time.Millisecond, 60},
	{"ap-south", "0.50", nil, 25 * time.Millisecond, 650},
}

func demoGPU(model string, gib uint64) job.GPU {
	return job.GPU{Vendor: "nvidia", Model: model, VRAMBytes: gib << 30}
}

func runDemo(ctx context.Context, w io.Writer) error {
	start := time.Now()
	fmt.Fprintf(w, "computemesh demo: 4 providers and 1 client, real libp2p hosts on 127.0.0.1, network %q\n", demoNetwork)
	fmt.Fprintf(w, "(the GPUs are simulated, declared on a test network and marked so in the providers' signed records;\n")
	fmt.Fprintf(w, " each provider has a delay injected on its connections, so the latency policy has real RTTs to rank)\n\n")
	rep := hwprobe.Probe(ctx, hwprobe.WithoutBenchmark())
	d := &demoMesh{names: map[string]string{}}
	defer d.closeProviders()
	if err := d.startProviders(ctx, w, &rep); err != nil {
		return err
	}
	if err := d.awaitAnnounced(ctx); err != nil {
		return err
	}
	client, err := node.New(ctx, node.Config{Mode: node.ModeClient, Ephemeral: true, Network: demoNetwork, Listen: mesh.LoopbackListen,
		Bootstrap: d.boot, Faucet: testfaucet.ID})
	if err != nil {
		return netErr(fmt.Errorf("starting the client: %w", err))
	}
	defer client.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Mesh().WaitProviders(wctx, 1); err != nil {
		return netErr(err)
	}
	if err := d.grantClient(ctx, wctx, client); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nclient %s joined; mesh up in %.0fms\n", short(client.ID().String()), ms(time.Since(start)))

	module := hello.Module()
	for i, r := range demoRuns {
		if err := runDemoJob(ctx, w, client, d.names, i, r, module); err != nil {
			return err
		}
	}
	d.printLedger(w, client)
	fmt.Fprintf(w, "demo done in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// demoMesh is the demo's providers, the first of them the bootstrap node.
type demoMesh struct {
	provs []*node.Node
	boot  []string
	names map[string]string // p1, p2... by peer ID
}

func (d *demoMesh) closeProviders() {
	for _, p := range d.provs {
		p.Close()
	}
}

// startProviders starts demoProviders and prints a table of them.
func (d *demoMesh) startProviders(ctx context.Context, w io.Writer, rep *hwprobe.Report) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tPEER ID\tREGION\tPRICE/CORE-HOUR\tCARBON\tGPUS\tDELAY\tADDRESS")
	for i, p := range demoProviders {
		rate, _ := job.ParseCredits(p.rate)
		cfg := node.Config{
			Mode: node.ModeProvider, Region: p.region, Rates: job.Rates{CPUHour: rate, GPUHour: 4 * rate},
			Network: demoNetwork, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: d.boot,
			Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}, Hardware: rep,
			Delay: p.delay, Faucet: testfaucet.ID, CarbonIntensity: p.carbon,
		}
		if p.gpus != nil {
			cfg.Simulated = &node.Simulated{GPUs: p.gpus}
		}
		n, err := node.New(ctx, cfg)
		if err != nil {
			return netErr(fmt.Errorf("starting provider %d: %w", i+1, err))
		}
		d.provs = append(d.provs, n)
		addr := n.Mesh().Addrs()[0].String()
		if i == 0 {
			d.boot = []string{addr}
		}
		name := fmt.Sprintf("p%d", i+1)
		d.names[n.ID().String()] = name
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", name, short(n.ID().String()), p.region, rate, p.carbon, gpuSummary(p.gpus), p.delay,
			strings.Split(addr, "/p2p/")[0])
	}
	tw.Flush()
	return nil
}

// awaitAnnounced waits until every provider has announced its capabilities.
func (d *demoMesh) awaitAnnounced(ctx context.Context) error {
	for i, p := range d.provs {
		select {
		case <-p.Announced():
		case <-time.After(30 * time.Second):
			return netErr(fmt.Errorf("provider p%d did not announce its capabilities on the DHT within 30s", i+1))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// grantClient gives the client credits and waits until every provider has
// heard of the grant (until wctx ends).
func (d *demoMesh) grantClient(ctx, wctx context.Context, client *node.Node) error {
	// The network has credits: providers refuse a client short of the
	// price. The test faucet grants the client 1 credit; every node hears
	// of the grant on the ledger topic.
	grant, err := node.SignGrant(testfaucet.Key(), demoNetwork, client.ID().String(), job.Nano)
	if err != nil {
		return err
	}
	if err := client.AddGrant(ctx, grant); err != nil {
		return netErr(fmt.Errorf("granting the client credits: %w", err))
	}
	for _, p := range d.provs {
		for p.Ledger().Balance(client.ID().String()).Granted == 0 {
			select {
			case <-wctx.Done():
				return netErr(fmt.Errorf("provider %s did not hear of the grant within 30s", d.names[p.ID().String()]))
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// printLedger prints what the client spent and the providers earned.
func (d *demoMesh) printLedger(w io.Writer, client *node.Node) {
	// Every run was settled by a receipt both sides signed, kept by both
	// and by the holders of their accounts (not by every node).
	self := client.ID().String()
	cb := client.Ledger().Balance(self)
	fmt.Fprintf(w, "\nledger (signed receipts, as the client's node sees them): client granted %s, spent %s, balance %s credits in %d receipts\n",
		cb.Granted, cb.Spent, cb.Balance, cb.Receipts)
	fmt.Fprintf(w, "earned by providers:")
	for _, p := range d.provs {
		fmt.Fprintf(w, " %s %s", d.names[p.ID().String()], client.Ledger().Balance(p.ID().String()).Earned)
	}
	fmt.Fprintln(w, " credits")
}

// demoRun is one of the demo's jobs.
type demoRun struct {
	title   string
	policy  string
	region  string
	gpus    int
	model   string
	auction string
}

var demoRuns = []demoRun{
	{"policy cost: the cheapest provider wins", job.PolicyCost, "", 0, "", ""},
	{"policy latency: the provider with the lowest measured RTT wins", job.PolicyLatency, "", 0, "", ""},
	{"policy green: the lowest estimated emissions win (the job's energy at each provider's self-declared carbon intensity)", job.PolicyGreen, "", 0, "", ""},
	{"policy cost, region eu-*: data stays in the EU", job.PolicyCost, "eu-*", 0, "", ""},
	{"policy cost, 1 GPU of model h100: only a provider with one may win (GPU jobs gossip on their own topic)", job.PolicyCost, "", 1, "h100", ""},
	{"policy balanced, second-price auction: price and latency weighed equally; the winner is paid the runner-up's price", job.PolicyBalanced, "", 0, "", job.AuctionSecondPrice},
}

// runDemoJob submits the demo's job i and prints the answers, the winner
// and the result.
func runDemoJob(ctx context.Context, w io.Writer, client *node.Node, names map[string]string, i int, r demoRun, module []byte) error {
	spec := &job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(module).String(), Name: "hello.wasm",
		Args: []string{fmt.Sprintf("job %d", i+1)}, Env: map[string]string{"HELLO_NAME": "demo"},
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20, GPUs: r.gpus, GPUModel: r.model},
		TimeoutMS: 10_000, Policy: r.policy, Region: r.region, Auction: r.auction,
	}
	fmt.Fprintf(w, "\n== job %d: %s\n", i+1, r.title)
	var mu sync.Mutex
	var answers []job.Event
	out, err := client.Submit(ctx, node.Submission{Spec: spec, Module: module, BidWindow: 2 * time.Second}, func(e job.Event) {
		if e.Kind == job.EventBid || e.Kind == job.EventDecline {
			mu.Lock()
			answers = append(answers, e)
			mu.Unlock()
		}
	})
	if err != nil {
		return netErr(err)
	}
	mu.Lock()
	printAnswers(w, client, names, answers, out)
	mu.Unlock()
	if out.State != job.StateCompleted {
		return &exitError{code: exitJobFailed, err: fmt.Errorf("demo job %d %s: %s", i+1, out.State, out.Error)}
	}
	fmt.Fprintf(w, "winner: %s (%s) — %s\n", names[out.Provider], out.Region, out.Reason)
	fmt.Fprintf(w, "result: exit %d, charged %s credits, emitted %s CO2e by estimate, %.1fms total (discover %.1f, auction %.1f, run %.1f)\n",
		out.ExitCode, out.Charge, out.Emissions, out.Timings.Total, out.Timings.Discover, out.Timings.Auction, out.Timings.Run)
	for _, line := range strings.Split(strings.TrimRight(string(out.Stdout), "\n"), "\n") {
		fmt.Fprintf(w, "  | %s\n", line)
	}
	return nil
}

func printAnswers(w io.Writer, client *node.Node, names map[string]string, answers []job.Event, out *job.Outcome) {
	sort.Slice(answers, func(i, j int) bool { return names[answers[i].Provider] < names[answers[j].Provider] })
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tPROVIDER\tREGION\tANSWER\tPRICE (credits)\tCARBON\tRTT")
	for _, a := range answers {
		mark := ""
		if a.Provider == out.Provider {
			mark = "→"
		}
		rtt := "-"
		if p, err := peer.Decode(a.Provider); err == nil {
			if d := client.Mesh().RTT(p); d > 0 {
				rtt = fmt.Sprintf("%.3fms", ms(d))
			}
		}
		answer, price := "bid", a.Price.String()
		if a.Kind == job.EventDecline {
			answer, price = "declined ("+a.Message+")", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, names[a.Provider], a.Region, answer, price, a.Carbon, rtt)
	}
	tw.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
