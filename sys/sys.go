// Package sys is the seam between wifibox's encoding of FreeBSD's calls and
// the kernel that answers them. Sys carries the system calls the FreeBSD
// backends make (open, close, ioctl with the argument's bytes and the
// pointers inside them, socket and read for the routing socket, pread for
// /dev/mem, sysctl, the kld calls, and the wait for a process's exit), with
// nothing decided above them: ppt, ifnet, kmod and
// launch fill and read the arguments in plain Go and hand them over here.
// Native gives the real calls on FreeBSD; sim.Kernel answers them from a
// model of FreeBSD's kernel on any system, so the simulated host, the unit
// tests and the conformance tests run the very code that runs on FreeBSD.
// Errors are abi.Errno values: FreeBSD's numbers and texts on every build.
package sys

import (
	"time"
	"unsafe"
)

// Sys is FreeBSD's system-call interface, as far as wifibox uses it.
type Sys interface {
	// Open opens a file (open(2)) with the given unix.O_* flags.
	Open(path string, flags int) (fd int, err error)
	// Close closes a descriptor (close(2)). Closing a routing socket
	// that another goroutine reads from makes that Read return.
	Close(fd int) error
	// Ioctl performs ioctl(2). req is the 32-bit request, passed
	// zero-extended; arg points to its argument, which may hold
	// pointers to further memory the kernel reads or fills in. The
	// caller keeps all of it alive and in place.
	Ioctl(fd int, req uint32, arg unsafe.Pointer) error
	// Socket opens a socket (socket(2)): the datagram socket that
	// interface ioctls go through, and the routing socket.
	Socket(domain, typ, proto int) (fd int, err error)
	// Read reads from a descriptor (read(2)); on a routing socket each
	// read gives one message, and blocks until one comes.
	Read(fd int, p []byte) (n int, err error)
	// Pread reads from a descriptor at an offset (pread(2)): /dev/mem
	// at a physical address, where the ACPI tables are.
	Pread(fd int, p []byte, off int64) (n int, err error)
	// Sysctl reads a sysctl by name (sysctlbyname(3)), with further
	// numeric components appended to the name's MIB (as
	// net.routetable.0.0.NET_RT_IFLISTL.0 takes them).
	Sysctl(name string, args ...int) ([]byte, error)

	// Kldload loads a kernel module file (kldload(2)) and gives its id.
	Kldload(file string) (fileid int, err error)
	// Kldunload unloads a file by its id (kldunload(2)).
	Kldunload(fileid int) error
	// Kldnext gives the file after fileid, the first for 0; 0 at the end.
	Kldnext(fileid int) (int, error)
	// Kldstat fills the struct kld_file_stat at stat (kldstat(2)); its
	// version field must be set.
	Kldstat(fileid int, stat unsafe.Pointer) error
	// Kldfirstmod gives the first module of a file; 0 if it has none.
	Kldfirstmod(fileid int) (int, error)
	// Modfnext gives the next module of the same file; 0 at the end.
	Modfnext(modid int) (int, error)
	// Modfind gives the id of the named module (modfind(2)).
	Modfind(name string) (modid int, err error)

	// WaitExit waits, at most timeout, for a process (any, not only a
	// child) to exit: kqueue(2) with EVFILT_PROC and NOTE_EXIT. It tells
	// whether it exited; ESRCH when there is no such process.
	WaitExit(pid int, timeout time.Duration) (exited bool, err error)
}
