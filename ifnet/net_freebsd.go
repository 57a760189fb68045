//go:build freebsd

package ifnet

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// New opens the datagram socket the interface ioctls go through (an
// AF_LOCAL one, as ifconfig(8) uses: every kernel has that family) and
// returns the FreeBSD host.Net. The socket stays open for the life of the
// process.
func New() (*Net, error) {
	fd, err := unix.Socket(unix.AF_LOCAL, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open a socket for interface ioctls: socket(AF_LOCAL, SOCK_DGRAM): %w", err)
	}
	return &Net{k: socket{fd: fd}}, nil
}

// socket is the real kernel: ioctl(2) on the socket and sysctl(3).
type socket struct {
	fd int
}

func (s socket) ioctl(req uint32, arg unsafe.Pointer) error {
	// The request is an unsigned 32-bit value; the kernel truncates
	// the u_long to 32 bits, so it is passed zero-extended.
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(s.fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

func (s socket) interfaceList() ([]byte, error) {
	for {
		// ENOMEM: an interface appeared between the call that
		// sized the buffer and the one that filled it; ask again.
		b, err := unix.SysctlRaw("net.routetable", 0, 0, _NET_RT_IFLISTL, 0)
		if !errors.Is(err, unix.ENOMEM) {
			return b, err
		}
	}
}
