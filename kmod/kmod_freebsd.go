//go:build freebsd

package kmod

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// New returns the Kernel of the running FreeBSD system.
func New() *Kernel {
	return &Kernel{sys: freebsd{}}
}

// freebsd makes the system calls.
type freebsd struct{}

// result gives a system call's result, an id, or its errno.
func result(r uintptr, errno unix.Errno) (int, error) {
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// callString makes a system call whose one argument is a C string.
func callString(trap uintptr, s string) (int, error) {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		return 0, err
	}
	r, _, errno := unix.Syscall(trap, uintptr(unsafe.Pointer(p)), 0, 0)
	return result(r, errno)
}

// callID makes a system call whose one argument is a file or module id.
func callID(trap uintptr, id int) (int, error) {
	r, _, errno := unix.Syscall(trap, uintptr(id), 0, 0)
	return result(r, errno)
}

func (freebsd) kldload(file string) (int, error) { return callString(sysKldload, file) }

func (freebsd) kldunload(fileid int) error {
	_, err := callID(sysKldunload, fileid)
	return err
}

func (freebsd) kldnext(fileid int) (int, error) { return callID(sysKldnext, fileid) }

func (freebsd) kldstat(fileid int, stat *kldFileStat) error {
	_, _, errno := unix.Syscall(sysKldstat, uintptr(fileid), uintptr(unsafe.Pointer(stat)), 0)
	_, err := result(0, errno)
	return err
}

func (freebsd) kldfirstmod(fileid int) (int, error) { return callID(sysKldfirstmod, fileid) }

func (freebsd) modfnext(modid int) (int, error) { return callID(sysModfnext, modid) }

func (freebsd) modfind(name string) (int, error) { return callString(sysModfind, name) }

func (freebsd) sysctl(name string) ([]byte, error) { return unix.SysctlRaw(name) }
