// Package hwprobe tells what this machine has and what it can do: CPU
// (vendor, model, physical cores, hardware threads and the instruction-set
// flags that matter for compute), memory (the kernel's usable MemTotal, the
// installed physical size and what is available now), the storage behind the
// node's data directory, GPUs, the executors this node can offer, and a short
// CPU benchmark.
//
// # Sources
//
// CPU, memory and PCI devices are read through jaypipes/ghw from /proc and
// /sys, GPUs from the PCI bus (display controllers, class 0x03, and AMD and
// NVIDIA processing accelerators, class 0x12) rather than from /sys/class/drm,
// because headless datacenter cards often have no DRM device. Vendor and model
// names come from the PCI ID database (pci.ids, never fetched over the
// network); without one the bus is read directly and vendor names come from a
// built-in table. nvidia-smi and rocm-smi, when found on the PATH, refine the
// GPUs the bus shows (model, memory, driver version), matched by PCI address,
// and add GPUs the bus did not show. Display-only controllers (server BMCs,
// virtual machines' emulated cards) are left out and named in the notes.
//
// A probe never fails: whatever could not be read is named in
// [Report.Notes] together with what was used instead.
//
// # Fixtures
//
// [WithRoot] makes every file read (/proc, /sys and the PCI ID database) come
// from a directory tree instead of /, through ghw's chroot option: the tests
// hand such trees to the same code that reads a live machine. Tools are run
// only from an explicit [WithPath] when a root is given, since binaries found
// on this machine's PATH would describe this machine, not the tree.
//
// # Benchmark and challenge
//
// [Probe] measures single-core SHA-256 throughput and a naive float64 matrix
// multiply (well under half a second in all) and caches the result in
// <data dir>/benchmark.json under a fingerprint of the hardware, so it is
// measured again only when the hardware changes. [Challenge] is a fixed,
// deterministic amount of work whose answer anyone can check with
// [VerifyChallenge], for a later protocol in which clients spot-check what
// providers claim.
package hwprobe
