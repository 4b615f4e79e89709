package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Wire format version of every message in this package.
const Version = 1

// Size limits of decoded messages.
const (
	MaxGossipSize = 16 << 10 // a Request or a Bid on a topic
	MaxAwardSize  = 4 << 20  // an Award: spec with args, env, stdin
	MaxReplySize  = 8 << 20  // a Reply: result with captured output
)

// Request is what a client gossips on the jobs topic: the requirements and
// the CIDs of spec and module — never args, env or inputs. The mesh checks
// that Client is the message's signing peer.
type Request struct {
	V        int    `json:"v"`
	Job      string `json:"job"`    // job ID (CID)
	Client   string `json:"client"` // peer ID of the client
	SpecCID  string `json:"spec"`
	Module   string `json:"module,omitempty"`  // wasm
	Image    string `json:"image,omitempty"`   // docker: providers without it decline
	Command  string `json:"command,omitempty"` // exec: providers that do not allow it decline
	Executor string `json:"executor"`
	Network  bool   `json:"network,omitempty"` // the job asks for network access
	// URLInputs: the job has inputs the provider fetches from URLs;
	// providers whose owner does not allow it decline.
	URLInputs bool      `json:"url_inputs,omitempty"`
	Resources Resources `json:"resources"`
	TimeoutMS int64     `json:"timeout_ms"`
	MaxPrice  Credits   `json:"max_price,omitempty"`
	Region    string    `json:"region,omitempty"`
	// NotRegions: providers in these regions decline (data residency).
	NotRegions []string `json:"not_regions,omitempty"`
	BidByMS    int64    `json:"bid_by_ms"` // unix ms: bids after this are ignored
	// Count is the job array's count (Spec.Count): providers bid for a
	// slice of it (Bid.Tasks). 0: an ordinary job.
	Count int `json:"count,omitempty"`
	// GossipBids asks every provider for an answer, by gossip where it
	// has no connection to the client: a client connected to none of its
	// candidates sets it. Without it, only the providers connected to the
	// client answer (on the bid protocol; by gossip over a relayed
	// connection the protocol cannot use): a gossiped answer costs every
	// node of the network a signature check, and the client asks the
	// candidates it dialled anyway.
	GossipBids bool `json:"gossip_bids,omitempty"`
	// IPFSInputs are the root CIDs of the job's inputs from IPFS: public
	// data (such a job has no region constraint), named so that a
	// provider says in its bid how much of them it holds (Bid.Held). The
	// CIDs of inputs from the client's store are never here.
	IPFSInputs []string `json:"ipfs_inputs,omitempty"`
	// ExpectedMS is the job's expected run time (Spec.ExpectedMS), for
	// which providers quote their carbon intensity (Bid.Carbon); set only
	// for a job that weighs carbon (Spec.WeighsCarbon), so that the
	// requests of others are what nodes before it decode. 0: the timeout.
	ExpectedMS int64 `json:"expected_ms,omitempty"`
}

// Run is the run a provider quotes its carbon intensity for: ExpectedMS,
// else the timeout.
func (r *Request) Run() time.Duration {
	if r.ExpectedMS > 0 {
		return time.Duration(r.ExpectedMS) * time.Millisecond
	}
	return r.Timeout()
}

// NewRequest returns the gossiped form of a job.
func NewRequest(id string, client string, s *Spec, bidByMS int64) *Request {
	return &Request{
		V: Version, Job: id, Client: client, SpecCID: s.CID().String(), Module: s.Module, Image: s.Image,
		Command: s.Command, Network: s.Network, Executor: s.Executor, Resources: s.Resources, TimeoutMS: s.TimeoutMS,
		MaxPrice: s.MaxPrice, Region: s.Region, NotRegions: s.NotRegions, BidByMS: bidByMS, Count: s.Count,
		URLInputs: s.HasURLInputs(), IPFSInputs: s.IPFSInputs(), ExpectedMS: carbonRunMS(s),
	}
}

// carbonRunMS is Request.ExpectedMS for s: its expected run time when it
// weighs carbon.
func carbonRunMS(s *Spec) int64 {
	if s.WeighsCarbon() {
		return s.ExpectedMS
	}
	return 0
}

// Validate checks every field of r.
func (r *Request) Validate() error {
	if r.V != Version {
		return fmt.Errorf("v: version %d, want %d", r.V, Version)
	}
	for _, f := range []struct{ name, v string }{{"job", r.Job}, {"spec", r.SpecCID}} {
		if _, err := ParseCID(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if r.Client == "" || len(r.Client) > 128 {
		return fmt.Errorf("client: missing or longer than 128 bytes")
	}
	switch r.Executor {
	case ExecutorWASM:
		if _, err := ParseCID(r.Module); err != nil {
			return fmt.Errorf("module: %w", err)
		}
	case ExecutorDocker:
		if err := ValidateImage(r.Image); err != nil {
			return fmt.Errorf("image: %w", err)
		}
	case ExecutorExec:
		if err := ValidateCommand(r.Command); err != nil {
			return fmt.Errorf("command: %w", err)
		}
	default:
		return fmt.Errorf("executor: %q is not supported", r.Executor)
	}
	if err := r.Resources.Validate(); err != nil {
		return err
	}
	if r.TimeoutMS <= 0 || r.TimeoutMS > MaxTimeout.Milliseconds() {
		return fmt.Errorf("timeout_ms: %d is out of range (1 to %d)", r.TimeoutMS, MaxTimeout.Milliseconds())
	}
	if r.MaxPrice < 0 {
		return fmt.Errorf("max_price: negative")
	}
	if err := ValidateRegionGlob(r.Region); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if r.ExpectedMS < 0 || r.ExpectedMS > MaxTimeout.Milliseconds() {
		return fmt.Errorf("expected_ms: %d is out of range (0 to %d)", r.ExpectedMS, MaxTimeout.Milliseconds())
	}
	if r.Count < 0 || r.Count > MaxCount {
		return fmt.Errorf("count: %d is out of range (0 to %d)", r.Count, MaxCount)
	}
	if len(r.NotRegions) > MaxNotRegions {
		return fmt.Errorf("not_regions: %d globs, limit %d", len(r.NotRegions), MaxNotRegions)
	}
	if len(r.IPFSInputs) > MaxInputs {
		return fmt.Errorf("ipfs_inputs: %d, limit %d", len(r.IPFSInputs), MaxInputs)
	}
	for i, c := range r.IPFSInputs {
		if _, err := ParseCID(c); err != nil {
			return fmt.Errorf("ipfs_inputs[%d]: %w", i, err)
		}
	}
	for i, g := range r.NotRegions {
		if err := ValidateRegionGlob(g); err != nil {
			return fmt.Errorf("not_regions[%d]: %w", i, err)
		}
	}
	return nil
}

// RegionAllowed reports whether a provider's region passes the request's
// region glob and not-regions.
func (r *Request) RegionAllowed(region string) bool {
	s := Spec{Region: r.Region, NotRegions: r.NotRegions}
	return s.RegionAllowed(region)
}

// Rates are a provider's unit prices.
type Rates struct {
	CPUHour Credits `json:"cpu_hour"`           // per core-hour
	GPUHour Credits `json:"gpu_hour,omitempty"` // per GPU-hour
	// MemGiBHour is per GiB-hour of reserved memory; StorageGiBHour per
	// GiB-hour of reserved disk (Resources.DiskBytes).
	MemGiBHour     Credits `json:"mem_gib_hour,omitempty"`
	StorageGiBHour Credits `json:"storage_gib_hour,omitempty"`
	Floor          Credits `json:"floor,omitempty"` // the least a job costs there
}

// DeclineReason is the reason code of a provider's decline (Bid.Decline).
type DeclineReason string

// Decline reason codes a provider gives instead of a bid.
const (
	DeclineRegion    DeclineReason = "region"
	DeclinePrice                   = "price"
	DeclineResources               = "resources"
	DeclineExecutor                = "executor"
	DeclineBusy                    = "busy"
	DeclineImage                   = "image"
	DeclineNetwork                 = "network"
	DeclineClient                  = "client"     // the owner does not serve this client
	DeclineCommand                 = "command"    // exec: the command is not in the provider's allowlist
	DeclineFunds                   = "funds"      // the client's balance (in the provider's ledger) is below the price, or it double-spent
	DeclineURLInputs               = "url_inputs" // the owner does not let jobs' inputs be fetched from URLs
)

// Bid is a provider's offer for a job, gossiped on the bids topic; with
// Decline set it is a refusal with a reason code instead. The mesh checks
// that Provider is the message's signing peer.
type Bid struct {
	V         int           `json:"v"`
	Job       string        `json:"job"`
	Provider  string        `json:"provider"`
	Decline   DeclineReason `json:"decline,omitempty"` // reason code; empty for a bid
	Detail    string        `json:"detail,omitempty"`  // human detail of a decline
	Price     Credits       `json:"price"`             // the most the job can cost there
	Rates     Rates         `json:"rates"`
	Region    string        `json:"region"`
	ExpiresMS int64         `json:"expires_ms"` // unix ms
	// Queue is how many awarded jobs wait ahead of this one when the
	// provider is full now (0: it starts at once); WaitMS the provider's
	// estimate of how long until it starts.
	Queue  int   `json:"queue,omitempty"`
	WaitMS int64 `json:"wait_ms,omitempty"`
	// Tasks is, for a job array, how many of its tasks the provider takes
	// now (its free slots and queue room); Price is per task. 0 counts as 1.
	Tasks int `json:"tasks,omitempty"`
	// Held is how many bytes of the job's IPFS inputs (Request.IPFSInputs)
	// the provider holds already, whole and public: what it need not
	// fetch (data locality).
	Held int64 `json:"held,omitempty"`
	// Carbon is the provider's declared carbon intensity over the job's
	// run from now (Request.Run): the mean of its forecast's hours the
	// run spans (Capacity.IntensityOver). 0: not declared.
	Carbon Intensity `json:"carbon,omitempty"`
}

// MaxHeld bounds Bid.Held: 64 inputs of 16 GiB (a provider's inputs limit).
const MaxHeld = MaxInputs << 34

// Validate checks every field of b.
func (b *Bid) Validate() error {
	if b.V != Version {
		return fmt.Errorf("v: version %d, want %d", b.V, Version)
	}
	if _, err := ParseCID(b.Job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if b.Provider == "" || len(b.Provider) > 128 {
		return fmt.Errorf("provider: missing or longer than 128 bytes")
	}
	if len(b.Decline) > 32 || len(b.Detail) > 512 || len(b.Region) > MaxRegionLen {
		return fmt.Errorf("decline, detail or region: too long (32, 512, %d bytes)", MaxRegionLen)
	}
	if b.Price < 0 || b.Rates.CPUHour < 0 || b.Rates.GPUHour < 0 || b.Rates.Floor < 0 || b.Rates.MemGiBHour < 0 || b.Rates.StorageGiBHour < 0 {
		return fmt.Errorf("price: negative")
	}
	if b.Queue < 0 || b.Queue > 1<<16 || b.WaitMS < 0 || b.WaitMS > MaxTimeout.Milliseconds()*64 {
		return fmt.Errorf("queue, wait_ms: %d, %d out of range", b.Queue, b.WaitMS)
	}
	if b.Tasks < 0 || b.Tasks > MaxCount {
		return fmt.Errorf("tasks: %d is out of range (0 to %d)", b.Tasks, MaxCount)
	}
	if b.Held < 0 || b.Held > MaxHeld {
		return fmt.Errorf("held: %d is out of range (0 to %d)", b.Held, MaxHeld)
	}
	if err := b.Carbon.Validate(); err != nil {
		return fmt.Errorf("carbon: %w", err)
	}
	return nil
}

// Award is what a client sends the winner over a direct stream: the whole
// spec with args, env and stdin, the nonce that proves the job ID, and the bid
// it accepts.
type Award struct {
	V      int    `json:"v"`
	Job    string `json:"job"`
	Client string `json:"client"`
	Nonce  []byte `json:"nonce"`
	Spec   Spec   `json:"spec"`
	Bid    Bid    `json:"bid"`
	// Attempt counts awards of this job, from 1; a failover is a new attempt.
	Attempt int `json:"attempt"`
	// Pay is the price the winner is paid at most: its bid's price under a
	// first-price auction, the runner-up's (never less than its own) under
	// second-price. The charge scales by Pay/Bid.Price. 0: Bid.Price.
	Pay Credits `json:"pay,omitempty"`
	// Secrets are environment variables for the winner alone: outside the
	// spec, so not hashed into the job ID, never gossiped, logged or kept.
	Secrets map[string]string `json:"secrets,omitempty"`
	// Auth is the client's signed promise to pay at most the pay (or the
	// bid's price) for this attempt; providers on networks with credits
	// require it.
	Auth *Authorization `json:"auth,omitempty"`
	// Tasks is a job array's slice awarded to this provider: the task
	// indices, strictly increasing. The provider sends a result per task
	// (Result.Task); Auth covers SliceMax(pay, len(Tasks)); one receipt
	// pays the sum of the tasks' charges.
	Tasks []int `json:"tasks,omitempty"`
}

// Validate checks a and that its job ID is the one its spec, client and nonce
// hash to.
func (a *Award) Validate() error {
	if a.V != Version {
		return fmt.Errorf("v: version %d, want %d", a.V, Version)
	}
	if err := a.Spec.Validate(); err != nil {
		return fmt.Errorf("spec.%w", err)
	}
	if len(a.Nonce) == 0 || len(a.Nonce) > 64 {
		return fmt.Errorf("nonce: must be 1 to 64 bytes")
	}
	if id := NewID(&a.Spec, a.Client, a.Nonce).String(); id != a.Job {
		return fmt.Errorf("job: %s does not match its spec, client and nonce (%s)", a.Job, id)
	}
	if a.Bid.Job != a.Job {
		return fmt.Errorf("bid.job: %s is not the award's job %s", a.Bid.Job, a.Job)
	}
	if a.Bid.Decline != "" {
		return fmt.Errorf("bid.decline: an award cannot accept a decline")
	}
	if a.Pay != 0 && a.Pay < a.Bid.Price {
		return fmt.Errorf("pay: %s is below the bid's price %s", a.Pay, a.Bid.Price)
	}
	if a.Auth != nil {
		if err := a.Auth.Validate(); err != nil {
			return fmt.Errorf("auth.%w", err)
		}
	}
	if err := ValidateSecrets(a.Secrets); err != nil {
		return err
	}
	if err := a.validateSlice(); err != nil {
		return err
	}
	return a.Bid.Validate()
}

// Reply types a provider sends on the award stream.
const (
	ReplyAccepted = "accepted"
	ReplyDeclined = "declined"
	ReplyResult   = "result"
	ReplyLog      = "log"
	// ReplyHeartbeat says the provider is alive: it sends one whenever the
	// stream has been quiet for a second, so a client notices a dead or
	// silent provider within a few seconds.
	ReplyHeartbeat = "heartbeat"
	// ReplyQueued says the award is accepted into the provider's queue at
	// Position; ReplyAccepted follows when the job starts.
	ReplyQueued = "queued"
	// ReplyReceipt returns the client's receipt counter-signed by the
	// provider, after the result.
	ReplyReceipt = "receipt"
)

// MaxLogChunk bounds one streamed chunk of a job's output.
const MaxLogChunk = 64 << 10

// Reply is one message from the winner on the award stream: accepted or
// declined (with a reason), then the result.
type Reply struct {
	Type   string  `json:"type"`
	Reason string  `json:"reason,omitempty"`
	Result *Result `json:"result,omitempty"`
	Log    []byte  `json:"log,omitempty"` // a chunk of stdout and stderr as the job writes them
	// Position in the provider's queue (queued replies).
	Position int `json:"position,omitempty"`
	// Receipt is the counter-signed receipt (receipt replies).
	Receipt *Receipt `json:"receipt,omitempty"`
}

// Validate checks r: a known type, a result exactly when the type is
// result, and a valid result.
func (r *Reply) Validate() error {
	if len(r.Reason) > 4096 {
		return fmt.Errorf("reason: %d bytes, limit 4096", len(r.Reason))
	}
	if len(r.Log) > MaxLogChunk || (len(r.Log) > 0 && r.Type != ReplyLog) {
		return fmt.Errorf("log: %d bytes in a %q reply (only log replies carry up to %d)", len(r.Log), r.Type, MaxLogChunk)
	}
	if r.Receipt != nil && r.Type != ReplyReceipt {
		return fmt.Errorf("receipt: only in a %q reply", ReplyReceipt)
	}
	switch r.Type {
	case ReplyReceipt:
		if r.Receipt == nil {
			return fmt.Errorf("receipt: missing")
		}
		return r.Receipt.Validate()
	case ReplyLog:
		if r.Result != nil {
			return fmt.Errorf("result: not allowed in a log reply")
		}
		return nil
	case ReplyAccepted, ReplyDeclined, ReplyHeartbeat, ReplyQueued:
		if r.Position < 0 || r.Position > 1<<16 {
			return fmt.Errorf("position: %d out of range", r.Position)
		}
		if r.Result != nil {
			return fmt.Errorf("result: not allowed in a %q reply", r.Type)
		}
		return nil
	case ReplyResult:
		if r.Result == nil {
			return fmt.Errorf("result: missing")
		}
		return r.Result.Validate()
	default:
		return fmt.Errorf("type: %q is not one of %s, %s, %s, %s, %s, %s, %s", r.Type, ReplyAccepted, ReplyDeclined, ReplyQueued, ReplyHeartbeat, ReplyLog, ReplyResult, ReplyReceipt)
	}
}

// Validate checks a result's fields.
func (r *Result) Validate() error {
	if _, err := ParseCID(r.Job); err != nil {
		return fmt.Errorf("result.job: %w", err)
	}
	if r.Charge < 0 {
		return fmt.Errorf("result.charge: negative")
	}
	if r.RunMS < 0 || r.CPUSeconds < 0 || r.GPUSeconds < 0 {
		return fmt.Errorf("result.run_ms, cpu_seconds or gpu_seconds: negative")
	}
	if len(r.Error) > 4096 {
		return fmt.Errorf("result.error: %d bytes, limit 4096", len(r.Error))
	}
	if r.Task < 0 || r.Task >= MaxCount {
		return fmt.Errorf("result.task: %d is out of range (0 to %d)", r.Task, MaxCount-1)
	}
	return nil
}

// Result is what a provider returns after running a job.
type Result struct {
	Job             string  `json:"job"`
	Provider        string  `json:"provider"`
	ExitCode        int     `json:"exit_code"`
	Stdout          []byte  `json:"stdout,omitempty"`
	Stderr          []byte  `json:"stderr,omitempty"`
	StdoutTruncated bool    `json:"stdout_truncated,omitempty"`
	StderrTruncated bool    `json:"stderr_truncated,omitempty"`
	TimedOut        bool    `json:"timed_out,omitempty"`
	MemoryExceeded  bool    `json:"memory_exceeded,omitempty"`
	DiskExceeded    bool    `json:"disk_exceeded,omitempty"`
	RunMS           float64 `json:"run_ms"`
	Charge          Credits `json:"charge"`          // metered cost, at most the bid's price
	Error           string  `json:"error,omitempty"` // the provider could not run it
	// Outputs is the manifest CID of what the job left in /outputs; the
	// client fetches it (and only it may) from the provider.
	Outputs string `json:"outputs,omitempty"`
	// Metered usage: CPU seconds (cgroup, rusage, or wall time for a
	// single-threaded WASM guest) and GPU seconds (GPUs × run time).
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	GPUSeconds float64 `json:"gpu_seconds,omitempty"`
	// PeakMemoryBytes is the most memory the job held (see the executors).
	PeakMemoryBytes uint64 `json:"peak_memory_bytes,omitempty"`
	// Task is the index of the task of a job array this result is for (a
	// result per task of the award's slice); 0 for an ordinary job.
	Task int `json:"task,omitempty"`
}

// Decode decodes one JSON message of at most limit bytes into v and validates
// it when v has a Validate method. Unknown fields are refused so that a
// message is either understood whole or not at all.
func Decode(b []byte, limit int, v any) error {
	if len(b) > limit {
		return fmt.Errorf("message of %d bytes exceeds the limit of %d", len(b), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding %T: %w", v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decoding %T: trailing data after the message", v)
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("invalid %T: %w", v, err)
		}
	}
	return nil
}

// Encode encodes v as JSON.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("job: encoding %T: %v", v, err))
	}
	return b
}

// Timeout returns the request's wall-clock limit.
func (r *Request) Timeout() time.Duration { return time.Duration(r.TimeoutMS) * time.Millisecond }
