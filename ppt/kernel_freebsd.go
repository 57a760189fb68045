//go:build freebsd

package ppt

import (
	"unsafe"

	"github.com/wifibox/wifibox/host"
	"golang.org/x/sys/unix"
)

// New gives the host's PCI devices through /dev/pci and /dev/devctl2.
func New() host.PCI {
	return &kernel{sys: freebsd{}, perCall: defaultPerCall}
}

// freebsd makes the system calls.
type freebsd struct{}

func (freebsd) Open(path string) (int, error) {
	return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

func (freebsd) Close(fd int) error { return unix.Close(fd) }

func (freebsd) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	// The request is passed zero-extended: the kernel truncates it to 32
	// bits, and a sign-extended value is a different request on the way.
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}
