//go:build freebsd

package tty

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
)

// FreeBSD's terminal requests (abi/tty.go). The kernel copies
// sizeof(struct termios) bytes to and from unix.Termios.
const (
	ioctlGetTermios = abi.TIOCGETA
	ioctlSetTermios = abi.TIOCSETA
	ioctlGetName    = "TIOCGETA"
	ioctlSetName    = "TIOCSETA"
)

// unix.Termios must have struct termios's layout (abi.Termios): each line
// fails to compile when a size or offset differs (a negative array length).
var (
	_ [unsafe.Sizeof(unix.Termios{}) - unsafe.Sizeof(abi.Termios{})]struct{}
	_ [unsafe.Sizeof(abi.Termios{}) - unsafe.Sizeof(unix.Termios{})]struct{}
	_ [unsafe.Offsetof(unix.Termios{}.Cc) - unsafe.Offsetof(abi.Termios{}.Cc)]struct{}
	_ [unsafe.Offsetof(abi.Termios{}.Cc) - unsafe.Offsetof(unix.Termios{}.Cc)]struct{}
	_ [unsafe.Offsetof(unix.Termios{}.Ispeed) - unsafe.Offsetof(abi.Termios{}.Ispeed)]struct{}
	_ [unsafe.Offsetof(abi.Termios{}.Ispeed) - unsafe.Offsetof(unix.Termios{}.Ispeed)]struct{}
	_ [unsafe.Offsetof(unix.Termios{}.Ospeed) - unsafe.Offsetof(abi.Termios{}.Ospeed)]struct{}
	_ [unsafe.Offsetof(abi.Termios{}.Ospeed) - unsafe.Offsetof(unix.Termios{}.Ospeed)]struct{}
	_ [len(unix.Termios{}.Cc) - abi.NCCS]struct{}
	_ [abi.NCCS - len(unix.Termios{}.Cc)]struct{}
)

// setSpeed115200 sets both speeds of t to 115200 baud; FreeBSD keeps them
// in c_ispeed and c_ospeed as plain numbers.
func setSpeed115200(t *unix.Termios) {
	t.Ispeed = abi.B115200
	t.Ospeed = abi.B115200
}
