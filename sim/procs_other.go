//go:build !linux

package sim

import (
	"errors"
	"time"
)

// WaitExit needs Linux's pidfd(2): simulated hosts run on Linux.
func (k *Kernel) WaitExit(pid int, timeout time.Duration) (bool, error) {
	return false, errors.New("simulated hosts wait for processes with Linux's pidfd_open(2) only")
}
