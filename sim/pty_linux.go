//go:build linux

package sim

import (
	"fmt"
	"os"

	"github.com/wifibox/wifibox/internal/tty"
)

// openPTY opens a pseudo-terminal in raw mode: the master, where the guest
// reads and writes, and the terminal a console client opens, which stays
// open so the master never sees a hang-up between clients.
func openPTY() (master, slave *os.File, err error) {
	master, slave, path, err := tty.OpenPTY()
	if err != nil {
		return nil, nil, err
	}
	if _, err := tty.MakeRawFile(slave, path, false); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	return master, slave, nil
}
