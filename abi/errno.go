// Package abi holds FreeBSD's numbers and layouts under their C names: errno
// values and their texts, ioctl requests, syscall numbers, and the structs
// passed to the kernel, each with the header it comes from. It is the one
// place these facts are written. Those golang.org/x/sys generates from
// FreeBSD's headers are pinned to it at compile time (xsys_freebsd.go);
// testdata/freebsd-abi.json pins the others, and
// both the FreeBSD backends (ppt, ifnet, kmod, launch, vmmapi) and the model
// of the kernel in sim/ use them, so a Linux build speaks FreeBSD's ABI.
package abi

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errno is a FreeBSD errno value (sys/sys/errno.h). The kernel model
// answers with these, and the FreeBSD system calls' unix.Errno converts to
// one with FromUnix, so an error reads as FreeBSD's on any build.
type Errno uintptr

// The errno values wifibox handles or a modelled call returns
// (sys/sys/errno.h, freebsd-src 01ca612a; 1 to 34 agree with Linux, the
// rest do not).
const (
	EPERM           Errno = 1
	ENOENT          Errno = 2
	ESRCH           Errno = 3
	EINTR           Errno = 4
	EIO             Errno = 5
	ENXIO           Errno = 6
	ENOEXEC         Errno = 8
	EBADF           Errno = 9
	ENOMEM          Errno = 12
	EACCES          Errno = 13
	EFAULT          Errno = 14
	EBUSY           Errno = 16
	EEXIST          Errno = 17
	ENODEV          Errno = 19
	ENOTDIR         Errno = 20
	EISDIR          Errno = 21
	EINVAL          Errno = 22
	ENOTTY          Errno = 25
	ENOSPC          Errno = 28
	ERANGE          Errno = 34
	EAGAIN          Errno = 35
	EALREADY        Errno = 37
	EPROTONOSUPPORT Errno = 43
	EOPNOTSUPP      Errno = 45
	EAFNOSUPPORT    Errno = 47
	ENAMETOOLONG    Errno = 63
	ENOMSG          Errno = 83
	ENOSYS          Errno = 78
)

// errnos names each value, gives FreeBSD's strerror(3) text
// (lib/libc/gen/errlst.c) and the build's own unix.Errno of that name.
var errnos = map[Errno]struct {
	name, text string
	host       unix.Errno
}{
	EPERM:           {"EPERM", "Operation not permitted", unix.EPERM},
	ENOENT:          {"ENOENT", "No such file or directory", unix.ENOENT},
	ESRCH:           {"ESRCH", "No such process", unix.ESRCH},
	EINTR:           {"EINTR", "Interrupted system call", unix.EINTR},
	EIO:             {"EIO", "Input/output error", unix.EIO},
	ENXIO:           {"ENXIO", "Device not configured", unix.ENXIO},
	ENOEXEC:         {"ENOEXEC", "Exec format error", unix.ENOEXEC},
	EBADF:           {"EBADF", "Bad file descriptor", unix.EBADF},
	ENOMEM:          {"ENOMEM", "Cannot allocate memory", unix.ENOMEM},
	EACCES:          {"EACCES", "Permission denied", unix.EACCES},
	EFAULT:          {"EFAULT", "Bad address", unix.EFAULT},
	EBUSY:           {"EBUSY", "Device busy", unix.EBUSY},
	EEXIST:          {"EEXIST", "File exists", unix.EEXIST},
	ENODEV:          {"ENODEV", "Operation not supported by device", unix.ENODEV},
	ENOTDIR:         {"ENOTDIR", "Not a directory", unix.ENOTDIR},
	EISDIR:          {"EISDIR", "Is a directory", unix.EISDIR},
	EINVAL:          {"EINVAL", "Invalid argument", unix.EINVAL},
	ENOTTY:          {"ENOTTY", "Inappropriate ioctl for device", unix.ENOTTY},
	ENOSPC:          {"ENOSPC", "No space left on device", unix.ENOSPC},
	ERANGE:          {"ERANGE", "Result too large", unix.ERANGE},
	EAGAIN:          {"EAGAIN", "Resource temporarily unavailable", unix.EAGAIN},
	EALREADY:        {"EALREADY", "Operation already in progress", unix.EALREADY},
	EPROTONOSUPPORT: {"EPROTONOSUPPORT", "Protocol not supported", unix.EPROTONOSUPPORT},
	EOPNOTSUPP:      {"EOPNOTSUPP", "Operation not supported", unix.EOPNOTSUPP},
	EAFNOSUPPORT:    {"EAFNOSUPPORT", "Address family not supported by protocol family", unix.EAFNOSUPPORT},
	ENOMSG:          {"ENOMSG", "No message of desired type", unix.ENOMSG},
	ENAMETOOLONG:    {"ENAMETOOLONG", "File name too long", unix.ENAMETOOLONG},
	ENOSYS:          {"ENOSYS", "Function not implemented", unix.ENOSYS},
}

// Error gives FreeBSD's text for the value.
func (e Errno) Error() string {
	if d, ok := errnos[e]; ok {
		return d.text
	}
	return "Unknown error: " + strconv.Itoa(int(e))
}

// Name gives the C name (EBUSY), or errno N for a value not listed.
func (e Errno) Name() string {
	if d, ok := errnos[e]; ok {
		return d.name
	}
	return "errno " + strconv.Itoa(int(e))
}

// Is makes errors.Is(err, unix.EBUSY) hold for abi.EBUSY on every build,
// so code written against x/sys's names reads the model's answers right.
func (e Errno) Is(target error) bool {
	switch t := target.(type) {
	case Errno:
		return e == t
	case unix.Errno:
		d, ok := errnos[e]
		return ok && d.host == t
	}
	return false
}

// As makes errors.As(err, &errno) with a syscall.Errno (unix.Errno) hold
// for abi values too, giving the build's own errno of that name, as a
// system call's error would; a value this package does not list is given
// as its number.
func (e Errno) As(target any) bool {
	p, ok := target.(*syscall.Errno)
	if !ok {
		return false
	}
	if d, ok := errnos[e]; ok {
		*p = d.host
	} else {
		*p = syscall.Errno(e)
	}
	return true
}

// FromUnix converts what a system call of this build returned. On FreeBSD
// the numbers are FreeBSD's already; on Linux (the tests' C stand-in of
// libvmmapi) the value is looked up by name.
func FromUnix(errno unix.Errno) Errno {
	for e, d := range errnos {
		if d.host == errno {
			return e
		}
	}
	return Errno(errno)
}
