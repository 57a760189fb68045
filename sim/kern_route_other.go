//go:build !linux

package sim

import "github.com/wifibox/wifibox/abi"

// logWaiter has no implementation off Linux, where the simulated host
// does not run: a routing socket cannot be opened there.
type logWaiter struct{}

func newLogWaiter(string) (*logWaiter, error) { return nil, abi.EOPNOTSUPP }
func (w *logWaiter) wait() error              { return abi.EOPNOTSUPP }
func (w *logWaiter) wake()                    {}
func (w *logWaiter) close()                   {}
