//go:build !linux

package sim

import (
	"errors"
	"os"
)

// openPTY is only simulated on Linux, where the simulated host runs.
func openPTY() (master, slave *os.File, err error) {
	return nil, nil, errors.New("the simulated console needs Linux pseudo-terminals")
}
