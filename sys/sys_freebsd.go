//go:build freebsd

package sys

import (
	"errors"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wifibox/wifibox/abi"
)

// Native makes the system calls of the running FreeBSD kernel.
func Native() Sys { return native{} }

type native struct{}

// errno converts a system call's error: x/sys on FreeBSD answers with
// FreeBSD's numbers already.
func errno(err error) error {
	if e, ok := err.(unix.Errno); ok {
		return abi.FromUnix(e)
	}
	return err
}

// result gives a system call's result, an id, or its errno.
func result(r uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return 0, abi.FromUnix(e)
	}
	return int(r), nil
}

// callString makes a system call whose one argument is a C string.
func callString(trap uintptr, s string) (int, error) {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		return 0, errno(err)
	}
	r, _, e := unix.Syscall(trap, uintptr(unsafe.Pointer(p)), 0, 0)
	return result(r, e)
}

// callID makes a system call whose one argument is a file or module id.
func callID(trap uintptr, id int) (int, error) {
	r, _, e := unix.Syscall(trap, uintptr(id), 0, 0)
	return result(r, e)
}

func (native) Open(path string, flags int) (int, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	return fd, errno(err)
}

// Close closes a descriptor. A read(2) another thread has under way on a
// socket is not ended by close(2) on FreeBSD, so a socket is shut down for
// reading first: soshutdown (sys/kern/uipc_socket.c) flushes its receive
// buffer and marks it unable to receive more (socantrcvmore), which wakes
// the reader with a read of 0. A routing socket is connected from its
// creation (rts_attach), so shutdown(2) applies to it. On a descriptor
// that is no socket, shutdown fails with ENOTSOCK and is ignored.
func (native) Close(fd int) error {
	unix.Shutdown(fd, unix.SHUT_RD)
	return errno(unix.Close(fd))
}

func (native) Ioctl(fd int, req uint32, arg unsafe.Pointer) error {
	// The request is passed zero-extended: the kernel truncates it to 32
	// bits (sys_ioctl in sys/kern/sys_generic.c), and a sign-extended
	// value is a different request on the way.
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	_, err := result(0, e)
	return err
}

func (native) Socket(domain, typ, proto int) (int, error) {
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	return fd, errno(err)
}

func (native) Read(fd int, p []byte) (int, error) {
	n, err := unix.Read(fd, p)
	return n, errno(err)
}

func (native) Pread(fd int, p []byte, off int64) (int, error) {
	n, err := unix.Pread(fd, p, off)
	return n, errno(err)
}

func (native) Sysctl(name string, args ...int) ([]byte, error) {
	b, err := unix.SysctlRaw(name, args...)
	return b, errno(err)
}

func (native) Kldload(file string) (int, error) { return callString(abi.SYS_KLDLOAD, file) }

func (native) Kldunload(fileid int) error {
	_, err := callID(abi.SYS_KLDUNLOAD, fileid)
	return err
}

func (native) Kldnext(fileid int) (int, error) { return callID(abi.SYS_KLDNEXT, fileid) }

func (native) Kldstat(fileid int, stat unsafe.Pointer) error {
	_, _, e := unix.Syscall(abi.SYS_KLDSTAT, uintptr(fileid), uintptr(stat), 0)
	_, err := result(0, e)
	return err
}

func (native) Kldfirstmod(fileid int) (int, error) { return callID(abi.SYS_KLDFIRSTMOD, fileid) }

func (native) Modfnext(modid int) (int, error) { return callID(abi.SYS_MODFNEXT, modid) }

func (native) Modfind(name string) (int, error) { return callString(abi.SYS_MODFIND, name) }

func (native) WaitExit(pid int, timeout time.Duration) (bool, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return false, errno(err)
	}
	defer unix.Close(kq)
	change := []unix.Kevent_t{{Ident: uint64(pid), Filter: abi.EVFILT_PROC, Flags: abi.EV_ADD | abi.EV_ONESHOT, Fflags: abi.NOTE_EXIT}}
	events := make([]unix.Kevent_t, 1)
	deadline := time.Now().Add(timeout)
	for {
		left := max(time.Until(deadline), 0)
		ts := unix.NsecToTimespec(left.Nanoseconds())
		n, err := unix.Kevent(kq, change, events, &ts)
		change = nil // registered once; EINTR retries only wait
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false, errno(err)
		case n == 0:
			return false, nil
		case events[0].Flags&abi.EV_ERROR != 0:
			return false, abi.FromUnix(unix.Errno(events[0].Data))
		}
		return true, nil
	}
}
