package tty

import "golang.org/x/sys/unix"

// Linux's terminal requests, for the simulated host and the tests.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
	ioctlGetName    = "TCGETS"
	ioctlSetName    = "TCSETS"
)

// setSpeed115200 sets both speeds of t to 115200 baud. Linux keeps the
// speed in c_cflag's CBAUD bits; c_ispeed and c_ospeed mirror it the way
// the C library fills them.
func setSpeed115200(t *unix.Termios) {
	t.Cflag = t.Cflag&^unix.CBAUD | unix.B115200
	t.Ispeed = unix.B115200
	t.Ospeed = unix.B115200
}
