package hwprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func probeStorage(c *config, n *notes) Storage {
	s := Storage{DataDir: c.dataDir}
	if abs, err := filepath.Abs(c.dataDir); err == nil {
		s.DataDir = abs
	}
	// A node's data directory may not exist before its first start: measure
	// the file system it will be created on.
	dir, err := existingAncestor(s.DataDir)
	if err != nil {
		n.add("storage: %v", err)
		return s
	}
	if dir != s.DataDir {
		n.add("storage: %s does not exist yet; measured %s, where it would be created", s.DataDir, dir)
	}
	if s.FreeBytes, s.TotalBytes, err = diskSpace(dir); err != nil {
		n.add("storage: %v", err)
	}
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	mountinfo := c.file("proc/self/mountinfo")
	if s.Device, s.FSType, err = mountOf(mountinfo, dir); err != nil {
		n.add("storage: device unknown: %v", err)
	}
	return s
}

// existingAncestor returns dir or its nearest ancestor that exists.
func existingAncestor(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return "", fmt.Errorf("data dir %s: %w", dir, err)
		}
	}
}

// mountOf finds the mount holding dir in a /proc/self/mountinfo file (the
// mount point that is the longest ancestor of dir; of mounts stacked on one
// point, the last) and returns its source and file system type.
func mountOf(mountinfo, dir string) (source, fstype string, err error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", "", fmt.Errorf("reading mountinfo: %w", err)
	}
	defer f.Close()
	best := -1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		point, fst, src, ok := parseMountinfoLine(sc.Text())
		if !ok || !isWithin(dir, point) || len(point) < best {
			continue
		}
		best, source, fstype = len(point), src, fst
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", mountinfo, err)
	}
	if best < 0 {
		return "", "", fmt.Errorf("%s: no mount holds %s", mountinfo, dir)
	}
	return source, fstype, nil
}

// parseMountinfoLine splits a mountinfo line:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// into its mount point (field 5), file system type and source (the first
// two fields after the "-" separator).
func parseMountinfoLine(line string) (point, fstype, source string, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 7 {
		return "", "", "", false
	}
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(fields) {
		return "", "", "", false
	}
	return unescapeMount(fields[4]), fields[sep+1], unescapeMount(fields[sep+2]), true
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isWithin reports whether path is dir or below it.
func isWithin(path, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}
