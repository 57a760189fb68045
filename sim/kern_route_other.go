//go:build !linux

package sim

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
)

// logWaiter has no implementation off Linux, where the simulated host
// does not run: a routing socket cannot be opened there.
type logWaiter struct{}

func newLogWaiter(string) (*logWaiter, error) { return nil, abi.EOPNOTSUPP }
func (w *logWaiter) wait([]int) error         { return abi.EOPNOTSUPP }
func (w *logWaiter) wake()                    {}
func (w *logWaiter) close()                   {}

// processAlive tells whether a process exists (kill(pid, 0)).
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
