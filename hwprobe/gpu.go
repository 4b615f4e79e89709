package hwprobe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jaypipes/ghw"
	"github.com/jaypipes/pcidb"
)

// PCI vendor IDs the probe knows by name.
const (
	vendorNVIDIA = 0x10de
	vendorAMD    = 0x1002
	vendorIntel  = 0x8086
)

// vendorName is the built-in short name of a GPU vendor, "" for others.
func vendorName(id uint16) string {
	switch id {
	case vendorNVIDIA:
		return "NVIDIA"
	case vendorAMD:
		return "AMD"
	case vendorIntel:
		return "Intel"
	}
	return ""
}

// displayOnlyVendor names vendors whose display controllers only drive a
// screen: server BMCs and the emulated cards of virtual machines. They are
// no GPUs for compute.
func displayOnlyVendor(id uint16) string {
	switch id {
	case 0x1a03:
		return "ASPEED (BMC)"
	case 0x102b:
		return "Matrox"
	case 0x1234:
		return "QEMU"
	case 0x1b36:
		return "Red Hat QXL"
	case 0x1af4:
		return "virtio"
	case 0x15ad:
		return "VMware"
	case 0x1013:
		return "Cirrus Logic"
	case 0x1414:
		return "Microsoft Hyper-V"
	case 0x80ee:
		return "VirtualBox"
	}
	return ""
}

// pciDevice is one device of the PCI bus, from ghw or read directly.
type pciDevice struct {
	address        string
	class          uint32 // base class << 16 | subclass << 8 | programming interface
	vendor, device uint16
	vendorName     string // from pci.ids; "" when unknown
	productName    string
	driver         string // kernel driver bound to it
}

// isGPU reports whether the device is a display controller (class 0x03:
// VGA 0x0300, 3D 0x0302 as on headless datacenter cards, other 0x0380) or a
// processing accelerator (0x12) of a GPU vendor, as AMD Instinct cards are.
func (d pciDevice) isGPU() bool {
	switch d.class >> 16 {
	case 0x03:
		return true
	case 0x12:
		return d.vendor == vendorAMD || d.vendor == vendorNVIDIA
	}
	return false
}

func probeGPUs(ctx context.Context, c *config, n *notes) []GPU {
	devs, source := pciDevices(c, n)
	gpus := []GPU{}
	for _, d := range devs {
		if !d.isGPU() {
			continue
		}
		if name := displayOnlyVendor(d.vendor); name != "" {
			n.add("gpu: left out the display-only controller %s %04x:%04x at %s", name, d.vendor, d.device, d.address)
			continue
		}
		gpus = append(gpus, c.gpuFromPCI(d, source))
	}
	return refineWithTools(ctx, c, gpus, n)
}

// pciDevices lists the PCI bus through ghw when a PCI ID database is at
// hand, else directly from sysfs, and says which it used.
func pciDevices(c *config, n *notes) ([]pciDevice, string) {
	dir := c.file("sys/bus/pci/devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			n.add("gpu: no PCI bus at %s; only tools can name GPUs", dir)
		} else {
			n.add("gpu: reading the PCI bus: %v", err)
		}
		return nil, ""
	}
	db, err := loadPCIDB(c)
	switch {
	case errors.Is(err, errNoPCIDB):
		n.add("gpu: ghw: no PCI ID database; vendor names from the built-in table, models as PCI IDs "+
			"(no pci.ids in %s or %s: install the pci.ids package, hwdata on Fedora)",
			c.file("usr/share/misc"), c.file("usr/share/hwdata"))
		return sysfsDevices(dir, entries, n), SourceSysfs
	case err != nil:
		n.add("gpu: ghw: %v; vendor names from the built-in table, models as PCI IDs", err)
		return sysfsDevices(dir, entries, n), SourceSysfs
	}
	devs, err := ghwDevices(c.root, db)
	switch {
	case err != nil:
		n.add("gpu: ghw: %v; read %s directly", err, dir)
	case len(devs) == 0 && len(entries) > 0:
		// ghw gives up on the whole bus when one device lacks a modalias.
		n.add("gpu: ghw read no device of the %d in %s; read it directly", len(entries), dir)
	default:
		return devs, SourceGHW
	}
	devs = sysfsDevices(dir, entries, n)
	for i := range devs {
		devs[i].vendorName, devs[i].productName = dbNames(db, devs[i].vendor, devs[i].device)
	}
	return devs, SourceSysfs
}

// errNoPCIDB is returned by loadPCIDB when no pci.ids file exists.
var errNoPCIDB = errors.New("no PCI ID database")

// loadPCIDB loads pci.ids from the probed tree ($PCIDB_PATH first on a live
// machine). It never fetches it over the network, whatever
// PCIDB_ENABLE_NETWORK_FETCH says.
func loadPCIDB(c *config) (db *pcidb.PCIDB, err error) {
	defer recoverInto("loading the PCI ID database", &err)
	var candidates []string
	if p := os.Getenv("PCIDB_PATH"); p != "" && c.live() {
		candidates = append(candidates, p)
	}
	// Where distributions put pci.ids.
	for _, rel := range []string{
		"usr/share/hwdata/pci.ids", "usr/share/misc/pci.ids",
		"usr/share/hwdata/pci.ids.gz", "usr/share/misc/pci.ids.gz",
	} {
		candidates = append(candidates, c.file(rel))
	}
	noFetch := false
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		db, err := pcidb.New(pcidb.WithPath(p), &pcidb.WithOption{EnableNetworkFetch: &noFetch})
		if err != nil {
			return nil, fmt.Errorf("loading the PCI ID database %s: %w", p, err)
		}
		return db, nil
	}
	return nil, errNoPCIDB
}

// ghwDevices lists the PCI bus under root through ghw.
func ghwDevices(root string, db *pcidb.PCIDB) (devs []pciDevice, err error) {
	defer recoverInto("reading the PCI bus", &err)
	info, err := ghw.PCI(ghw.WithChroot(root), ghw.WithPCIDB(db), ghw.WithDisableWarnings(),
		ghw.WithDisableTools(), ghw.WithDisableTopology())
	if err != nil {
		return nil, fmt.Errorf("reading the PCI bus: %w", err)
	}
	for _, d := range info.Devices {
		if d == nil || d.Vendor == nil || d.Product == nil || d.Class == nil {
			continue
		}
		vendor, err1 := strconv.ParseUint(d.Vendor.ID, 16, 16)
		device, err2 := strconv.ParseUint(d.Product.ID, 16, 16)
		class, err3 := strconv.ParseUint(d.Class.ID, 16, 8)
		if err := errors.Join(err1, err2, err3); err != nil {
			continue
		}
		pd := pciDevice{
			address:     d.Address,
			class:       uint32(class) << 16,
			vendor:      uint16(vendor),
			device:      uint16(device),
			vendorName:  knownName(d.Vendor.Name),
			productName: knownName(d.Product.Name),
			driver:      d.Driver,
		}
		if d.Subclass != nil {
			if sub, err := strconv.ParseUint(d.Subclass.ID, 16, 8); err == nil {
				pd.class |= uint32(sub) << 8
			}
		}
		devs = append(devs, pd)
	}
	return devs, nil
}

// knownName drops ghw's placeholder for names pci.ids lacks.
func knownName(s string) string {
	if s == "unknown" {
		return ""
	}
	return s
}

// dbNames looks a vendor and a device up in pci.ids.
func dbNames(db *pcidb.PCIDB, vendor, device uint16) (vendorName, productName string) {
	if v := db.Vendors[fmt.Sprintf("%04x", vendor)]; v != nil {
		vendorName = v.Name
	}
	if p := db.Products[fmt.Sprintf("%04x%04x", vendor, device)]; p != nil {
		productName = p.Name
	}
	return vendorName, productName
}

// sysfsDevices reads class, vendor and device of each PCI device in dir.
func sysfsDevices(dir string, entries []os.DirEntry, n *notes) []pciDevice {
	var devs []pciDevice
	for _, e := range entries {
		d, err := sysfsDevice(filepath.Join(dir, e.Name()))
		if err != nil {
			n.add("gpu: PCI device %s: %v", e.Name(), err)
			continue
		}
		d.address = e.Name()
		devs = append(devs, d)
	}
	return devs
}

func sysfsDevice(dir string) (pciDevice, error) {
	var d pciDevice
	class, err := readHexFile(filepath.Join(dir, "class"), 24)
	if err != nil {
		return d, err
	}
	vendor, err := readHexFile(filepath.Join(dir, "vendor"), 16)
	if err != nil {
		return d, err
	}
	device, err := readHexFile(filepath.Join(dir, "device"), 16)
	if err != nil {
		return d, err
	}
	d.class, d.vendor, d.device = uint32(class), uint16(vendor), uint16(device)
	if dest, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
		d.driver = filepath.Base(dest)
	}
	return d, nil
}

// readHexFile reads a sysfs attribute such as "0x030200\n".
func readHexFile(path string, bits int) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading PCI attribute: %w", err)
	}
	s := strings.TrimPrefix(strings.TrimSpace(string(b)), "0x")
	v, err := strconv.ParseUint(s, 16, bits)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// gpuFromPCI describes a GPU from its PCI device and what sysfs says of it:
// amdgpu's VRAM size, the driver module's version.
func (c *config) gpuFromPCI(d pciDevice, source string) GPU {
	g := GPU{
		Vendor:     vendorName(d.vendor),
		VendorID:   fmt.Sprintf("0x%04x", d.vendor),
		DeviceID:   fmt.Sprintf("0x%04x", d.device),
		Model:      d.productName,
		Driver:     d.driver,
		PCIAddress: d.address,
		Source:     source,
	}
	if a, err := normalizeBusID(d.address); err == nil {
		g.PCIAddress = a
	}
	if g.Vendor == "" {
		g.Vendor = d.vendorName
	}
	if g.Vendor == "" {
		g.Vendor = "PCI vendor " + g.VendorID
	}
	if g.Model == "" {
		g.Model = fmt.Sprintf("PCI device %04x:%04x", d.vendor, d.device)
	}
	dev := filepath.Join(c.file("sys/bus/pci/devices"), d.address)
	if v, err := readUintFile(filepath.Join(dev, "mem_info_vram_total")); err == nil {
		g.VRAMBytes = v
	}
	if d.driver != "" {
		if b, err := os.ReadFile(c.file(filepath.Join("sys/module", d.driver, "version"))); err == nil {
			g.DriverVersion = strings.TrimSpace(string(b))
		}
	}
	return g
}

func readUintFile(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
