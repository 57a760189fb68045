// Package tty owns what wifibox does to terminals: cfmakeraw(3)'s settings,
// reading and setting a terminal's termios with the running system's
// requests (TIOCGETA/TIOCSETA on FreeBSD, TCGETS/TCSETS on Linux), its
// speed, running a call on an *os.File's descriptor without taking it out of
// Go's poller, and, on Linux, opening the pseudo-terminals that stand in for
// nmdm(4) on the simulated host and in tests.
package tty

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MakeRaw changes t the way FreeBSD's cfmakeraw(3) does: no input or output
// processing, no echo, no flow control, no signals or line editing from
// keys, 8-bit characters, and a read returns as soon as one byte is there.
// The flag values are the running system's, from x/sys/unix.
func MakeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IMAXBEL | unix.IXOFF | unix.INPCK | unix.BRKINT | unix.PARMRK |
		unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IGNPAR
	t.Iflag |= unix.IGNBRK
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ICANON |
		unix.ISIG | unix.IEXTEN | unix.NOFLSH | unix.TOSTOP | unix.PENDIN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

// Get reads the settings of the terminal open on fd; the error wraps
// ENOTTY when fd is not a terminal.
func Get(fd int, name string) (*unix.Termios, error) {
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, fmt.Errorf("read terminal settings of %s: %s: %w", name, ioctlGetName, err)
	}
	return t, nil
}

// Set changes the settings of the terminal open on fd at once.
func Set(fd int, name string, t *unix.Termios) error {
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, t); err != nil {
		return fmt.Errorf("set terminal settings of %s: %s: %w", name, ioctlSetName, err)
	}
	return nil
}

// MakeRawFile makes the terminal open as f raw, as MakeRaw does, and sets
// it to 115200 baud when baud115200; it gives the settings it had before,
// for the caller to restore. name names the terminal in errors, which wrap
// ENOTTY when f is not a terminal. On error the settings are unchanged.
func MakeRawFile(f *os.File, name string, baud115200 bool) (saved *unix.Termios, err error) {
	err = Control(f, func(fd int) error {
		t, err := Get(fd, name)
		if err != nil {
			return err
		}
		raw := *t
		MakeRaw(&raw)
		if baud115200 {
			setSpeed115200(&raw)
		}
		if err := Set(fd, name, &raw); err != nil {
			return err
		}
		saved = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// Control runs fn with f's descriptor, leaving f's blocking mode alone (as
// f.Fd() would not), so reads on f stay interruptible by Close.
func Control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}
