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
	err = tty.Control(slave, func(fd int) error {
		t, err := tty.Get(fd, path)
		if err != nil {
			return err
		}
		tty.MakeRaw(t)
		return tty.Set(fd, path, t)
	})
	if err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	return master, slave, nil
}
