//go:build freebsd

package tty

import (
	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
)

// FreeBSD's terminal requests (abi/tty.go). The kernel copies
// sizeof(struct termios) bytes to and from unix.Termios, whose layout abi
// pins to struct termios (abi/xsys_freebsd.go).
const (
	ioctlGetTermios = abi.TIOCGETA
	ioctlSetTermios = abi.TIOCSETA
	ioctlGetName    = "TIOCGETA"
	ioctlSetName    = "TIOCSETA"
)

// setSpeed115200 sets both speeds of t to 115200 baud; FreeBSD keeps them
// in c_ispeed and c_ospeed as plain numbers.
func setSpeed115200(t *unix.Termios) {
	t.Ispeed = abi.B115200
	t.Ospeed = abi.B115200
}
