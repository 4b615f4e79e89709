//go:build !(linux || darwin || freebsd)

package hwprobe

import (
	"errors"
	"fmt"
)

// diskSpace is not implemented on this system.
func diskSpace(dir string) (free, total uint64, err error) {
	return 0, 0, fmt.Errorf("statfs %s: %w", dir, errors.ErrUnsupported)
}
