package console

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// makeRaw changes t the way FreeBSD's cfmakeraw(3) does: no input or output
// processing, no echo, no flow control, no signals or line editing from
// keys, 8-bit characters, and a read returns as soon as one byte is there.
// The flag values are the running system's, from x/sys/unix.
func makeRaw(t *unix.Termios) {
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

// getTermios reads the settings of the terminal open on fd; the error wraps
// ENOTTY when fd is not a terminal.
func getTermios(fd int, name string) (*unix.Termios, error) {
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, fmt.Errorf("read terminal settings of %s: %s: %w", name, ioctlGetName, err)
	}
	return t, nil
}

// setTermios changes the settings of the terminal open on fd at once.
func setTermios(fd int, name string, t *unix.Termios) error {
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, t); err != nil {
		return fmt.Errorf("set terminal settings of %s: %s: %w", name, ioctlSetName, err)
	}
	return nil
}
