//go:build freebsd

package tty

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD's terminal requests (abi.go). The kernel copies sizeof(struct
// termios) bytes to and from unix.Termios.
const (
	ioctlGetTermios = _TIOCGETA
	ioctlSetTermios = _TIOCSETA
	ioctlGetName    = "TIOCGETA"
	ioctlSetName    = "TIOCSETA"
)

// unix.Termios must have struct termios's layout: each line fails to
// compile when a size or offset differs (a negative array length).
var (
	_ [unsafe.Sizeof(unix.Termios{}) - sizeofTermios]struct{}
	_ [sizeofTermios - unsafe.Sizeof(unix.Termios{})]struct{}
	_ [unsafe.Offsetof(unix.Termios{}.Cc) - offsetofCc]struct{}
	_ [offsetofCc - unsafe.Offsetof(unix.Termios{}.Cc)]struct{}
	_ [unsafe.Offsetof(unix.Termios{}.Ispeed) - offsetofIspeed]struct{}
	_ [offsetofIspeed - unsafe.Offsetof(unix.Termios{}.Ispeed)]struct{}
	_ [unsafe.Offsetof(unix.Termios{}.Ospeed) - offsetofOspeed]struct{}
	_ [offsetofOspeed - unsafe.Offsetof(unix.Termios{}.Ospeed)]struct{}
	_ [len(unix.Termios{}.Cc) - nccs]struct{}
	_ [nccs - len(unix.Termios{}.Cc)]struct{}
)

// setSpeed115200 sets both speeds of t to 115200 baud; FreeBSD keeps them
// in c_ispeed and c_ospeed as plain numbers.
func setSpeed115200(t *unix.Termios) {
	t.Ispeed = freebsdB115200
	t.Ospeed = freebsdB115200
}
