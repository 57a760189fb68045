//go:build freebsd

package launch

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// New gives the FreeBSD host.Launcher.
func New() *Launcher {
	return &Launcher{openRoutes: openRoutes, ifIndex: interfaceIndex}
}

// openRoutes opens a routing socket for every address family. It is
// non-blocking so that Go's poller waits on it and Close makes a pending
// Read return.
func openRoutes() (routeSocket, error) {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("socket(AF_ROUTE, SOCK_RAW): %w", err)
	}
	return os.NewFile(uintptr(fd), "routing socket"), nil
}

// interfaceIndex gives the index of a network interface (from the
// routing sysctl, which the net package reads without cgo).
func interfaceIndex(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}
