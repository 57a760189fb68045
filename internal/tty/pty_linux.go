package tty

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OpenPTY opens a Linux pseudo-terminal: the master and the terminal
// (slave), and gives the terminal's path.
func OpenPTY() (master, slave *os.File, path string, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open pseudo-terminal: %w", err)
	}
	var n uint32
	err = Control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlockpt: TIOCSPTLCK: %w", err)
		}
		var err error
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		return err
	})
	path = fmt.Sprintf("/dev/pts/%d", n)
	if err == nil {
		slave, err = os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		return nil, nil, "", fmt.Errorf("open pseudo-terminal: %w", err)
	}
	return master, slave, path, nil
}
