package hwprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const toolOutputLimit = 1 << 20 // bytes of a tool's output kept

// toolGPU is a GPU as nvidia-smi or rocm-smi lists it.
type toolGPU struct {
	name          string
	vramBytes     uint64
	driverVersion string
	busID         string // normalized; "" when the tool did not say
}

// refineWithTools runs nvidia-smi and rocm-smi when found on the PATH and
// merges what they list into gpus.
func refineWithTools(ctx context.Context, c *config, gpus []GPU, n *notes) []GPU {
	if !c.live() && !c.pathSet {
		n.add("gpu: nvidia-smi and rocm-smi not run: probing the tree at %s, not this machine", c.root)
		return gpus
	}
	type tool struct {
		name   string
		args   []string
		vendor uint16
		parse  func([]byte) ([]toolGPU, []string, error)
		absent string // why it matters that the tool is missing
	}
	for _, t := range []tool{
		{
			"nvidia-smi",
			[]string{"--query-gpu=index,name,memory.total,driver_version,pci.bus_id", "--format=csv,noheader,nounits"},
			vendorNVIDIA, parseNvidiaSMI, "VRAM and driver version of NVIDIA GPUs unknown",
		},
		{
			"rocm-smi",
			[]string{"--showproductname", "--showmeminfo", "vram", "--showbus", "--json"},
			vendorAMD, parseRocmSMI, "VRAM of AMD GPUs unknown",
		},
	} {
		path, ok := lookPath(t.name, c.path)
		if !ok {
			if needsTool(gpus, t.vendor) {
				n.add("gpu: %s not found on the PATH; %s", t.name, t.absent)
			}
			continue
		}
		out, err := runTool(ctx, path, t.args...)
		if err != nil {
			n.add("gpu: %v", err)
			continue
		}
		found, problems, err := t.parse(out)
		for _, p := range problems {
			n.add("gpu: %s: %s", t.name, p)
		}
		if err != nil {
			n.add("gpu: %s: %v", t.name, err)
			continue
		}
		var added int
		gpus, added = mergeToolGPUs(gpus, found, t.name, t.vendor)
		if added > 0 {
			n.add("gpu: %s lists %d GPU(s) the PCI bus did not show", t.name, added)
		}
	}
	return gpus
}

// needsTool reports whether a GPU of the vendor lacks what its tool would
// tell.
func needsTool(gpus []GPU, vendor uint16) bool {
	id := fmt.Sprintf("0x%04x", vendor)
	return slices.ContainsFunc(gpus, func(g GPU) bool { return g.VendorID == id && g.VRAMBytes == 0 })
}

// mergeToolGPUs refines the GPUs of gpus that found lists, matched by PCI
// address (or, where the tool gives none, in order among the vendor's GPUs),
// and appends those it lists that gpus lacks. It returns how many it added.
func mergeToolGPUs(gpus []GPU, found []toolGPU, tool string, vendor uint16) ([]GPU, int) {
	vendorID := fmt.Sprintf("0x%04x", vendor)
	refined := make([]bool, len(gpus))
	added := 0
	for _, t := range found {
		i := -1
		if t.busID != "" {
			i = slices.IndexFunc(gpus, func(g GPU) bool { return g.PCIAddress == t.busID })
		} else {
			for j, g := range gpus {
				if j < len(refined) && !refined[j] && g.VendorID == vendorID {
					i = j
					break
				}
			}
		}
		if i < 0 {
			gpus = append(gpus, GPU{
				Vendor: vendorName(vendor), VendorID: vendorID, Model: t.name,
				VRAMBytes: t.vramBytes, DriverVersion: t.driverVersion,
				PCIAddress: t.busID, Source: tool,
			})
			added++
			continue
		}
		g := &gpus[i]
		if t.name != "" {
			g.Model = t.name
		}
		if t.vramBytes > 0 {
			g.VRAMBytes = t.vramBytes
		}
		if t.driverVersion != "" {
			g.DriverVersion = t.driverVersion
		}
		if i < len(refined) && !refined[i] {
			g.Source += sourceSep + tool
			refined[i] = true
		}
	}
	return gpus, added
}

// lookPath finds an executable named name in the directories of pathList
// (in $PATH form). Empty and relative entries are skipped rather than taken
// relative to the working directory (as os/exec refuses them too).
func lookPath(name, pathList string) (string, bool) {
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if runtime.GOOS != "windows" && st.Mode().Perm()&0o111 == 0 {
			continue
		}
		return p, true
	}
	return "", false
}

// runTool runs a tool for at most toolTimeout and returns its standard
// output (the first MiB).
func runTool(ctx context.Context, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	name := filepath.Base(path)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = time.Second // a child keeping the pipes open must not hang the probe
	stdout := &cappedBuffer{max: toolOutputLimit}
	stderr := &cappedBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%s: no answer within %v", name, toolTimeout)
	}
	if err != nil {
		msg := firstLine(stderr.String())
		if msg == "" {
			msg = firstLine(stdout.String())
		}
		if msg != "" {
			return nil, fmt.Errorf("running %s: %w: %s", name, err, msg)
		}
		return nil, fmt.Errorf("running %s: %w", name, err)
	}
	return stdout.Bytes(), nil
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// parseNvidiaSMI parses the output of
//
//	nvidia-smi --query-gpu=index,name,memory.total,driver_version,pci.bus_id --format=csv,noheader,nounits
//
// one GPU a line, e.g. "0, NVIDIA H100 80GB HBM3, 81559, 550.54.15, 00000000:17:00.0",
// memory in MiB. Fields nvidia-smi cannot tell ("[N/A]", "[Not Supported]")
// are left empty. Lines that are no GPU (warnings) are skipped and named in
// problems. A name containing commas is kept whole: the fields after it are
// counted from the end.
func parseNvidiaSMI(out []byte) (gpus []toolGPU, problems []string, err error) {
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		if len(f) < 5 {
			problems = append(problems, fmt.Sprintf("line %d: %q: want 5 comma-separated fields", i+1, firstLine(line)))
			continue
		}
		if _, err := strconv.ParseUint(f[0], 10, 32); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %q: index %q is not a number", i+1, firstLine(line), f[0]))
			continue
		}
		last := len(f) - 1
		g := toolGPU{
			name:          smiValue(strings.Join(f[1:last-2], ", ")),
			driverVersion: smiValue(f[last-1]),
		}
		if mem := smiValue(strings.TrimSuffix(f[last-2], " MiB")); mem != "" {
			if g.vramBytes, err = parseMiB(mem); err != nil {
				problems = append(problems, fmt.Sprintf("line %d: memory.total: %v", i+1, err))
			}
		}
		if bus := smiValue(f[last]); bus != "" {
			if g.busID, err = normalizeBusID(bus); err != nil {
				problems = append(problems, fmt.Sprintf("line %d: pci.bus_id: %v", i+1, err))
			}
		}
		gpus = append(gpus, g)
	}
	if len(gpus) == 0 && len(problems) > 0 {
		return nil, problems, errors.New("no GPU in the output")
	}
	return gpus, problems, nil
}

// smiValue returns s, or "" for the tools' placeholders of unknown values.
func smiValue(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "[n/a]", "n/a", "[not supported]", "not supported", "[unknown error]", "unknown":
		return ""
	}
	return strings.TrimSpace(s)
}

// parseMiB parses a size in MiB (possibly fractional) into bytes.
func parseMiB(s string) (uint64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of MiB: %w", s, err)
	}
	if v < 0 || math.IsNaN(v) || v*(1<<20) >= 1<<63 {
		return 0, fmt.Errorf("%q MiB is out of range", s)
	}
	return uint64(v * (1 << 20)), nil
}

// normalizeBusID brings a PCI address to the kernel's form,
// dddd:bb:dd.f in lower case: nvidia-smi writes 00000000:17:00.0, rocm-smi
// and sysfs 0000:17:00.0, some tools omit the domain (17:00.0).
func normalizeBusID(s string) (string, error) {
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))
	parts := strings.Split(s, ":")
	var domain string
	switch len(parts) {
	case 2:
		domain = "0"
	case 3:
		domain = parts[0]
		parts = parts[1:]
	default:
		return "", fmt.Errorf("PCI address %q: want [domain:]bus:device.function", orig)
	}
	dev, fn, ok := strings.Cut(parts[1], ".")
	if !ok {
		return "", fmt.Errorf("PCI address %q: no function after the device", orig)
	}
	var v [4]uint64
	for i, p := range []struct {
		s    string
		bits int
		max  uint64
	}{{domain, 32, math.MaxUint32}, {parts[0], 8, 0xff}, {dev, 8, 0x1f}, {fn, 8, 7}} {
		if p.s == "" || len(p.s) > 8 {
			return "", fmt.Errorf("PCI address %q: bad field %q", orig, p.s)
		}
		x, err := strconv.ParseUint(p.s, 16, p.bits)
		if err != nil || x > p.max {
			return "", fmt.Errorf("PCI address %q: field %q out of range", orig, p.s)
		}
		v[i] = x
	}
	return fmt.Sprintf("%04x:%02x:%02x.%x", v[0], v[1], v[2], v[3]), nil
}

// parseRocmSMI parses the JSON of
//
//	rocm-smi --showproductname --showmeminfo vram --showbus --json
//
// an object of cards ("card0": {"Card series": ..., "VRAM Total Memory (B)":
// ..., "PCI Bus": ...}, ...). Key names have changed between ROCm releases,
// so they are matched without regard to case and several are tried; text
// around the JSON (warnings) is ignored.
func parseRocmSMI(out []byte) (gpus []toolGPU, problems []string, err error) {
	start, end := bytes.IndexByte(out, '{'), bytes.LastIndexByte(out, '}')
	if start < 0 || end < start {
		return nil, nil, errors.New("no JSON object in the output")
	}
	var cards map[string]map[string]any
	if err := json.Unmarshal(out[start:end+1], &cards); err != nil {
		return nil, nil, fmt.Errorf("decoding the output: %w", err)
	}
	type card struct {
		n int
		g toolGPU
	}
	var list []card
	for key, fields := range cards {
		num, ok := strings.CutPrefix(strings.ToLower(key), "card")
		if !ok {
			continue // "system" and the like
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		get := func(names ...string) string {
			for _, name := range names {
				for k, v := range fields {
					if strings.EqualFold(strings.TrimSpace(k), name) {
						if s := smiValue(fmt.Sprint(v)); s != "" {
							return s
						}
					}
				}
			}
			return ""
		}
		g := toolGPU{name: get("Card Series", "Device Name", "Marketing Name", "Card Model")}
		if s := get("VRAM Total Memory (B)"); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || v >= 1<<63 {
				problems = append(problems, fmt.Sprintf("%s: VRAM %q is not a number of bytes", key, s))
			} else {
				g.vramBytes = uint64(v)
			}
		}
		if s := get("PCI Bus"); s != "" {
			if g.busID, err = normalizeBusID(s); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", key, err))
			}
		}
		list = append(list, card{n, g})
	}
	slices.SortFunc(list, func(a, b card) int { return a.n - b.n })
	for _, c := range list {
		gpus = append(gpus, c.g)
	}
	return gpus, problems, nil
}
