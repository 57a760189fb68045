//go:build freebsd

package abi

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every fact of this package that golang.org/x/sys generates from
// FreeBSD's headers (its zerrors, zsysnum and ztypes files for
// freebsd/amd64 and freebsd/arm64) is pinned here to x/sys's own value:
// each line indexes a one-element array with the difference, which the
// compiler refuses unless it is 0 (a negative difference overflows the
// unsigned type, a positive one is out of range). So `make freebsd` and
// `GOOS=freebsd go vet ./abi` fail on any drift. testdata/freebsd-abi.json
// keeps only the facts x/sys lacks.
func _() {
	var pin [1]struct{}
	// The kld and module system calls, and ioctl (sys/kern/syscalls.master).
	_ = pin[uint(SYS_MODFNEXT-unix.SYS_MODFNEXT)]
	_ = pin[uint(SYS_MODFIND-unix.SYS_MODFIND)]
	_ = pin[uint(SYS_KLDLOAD-unix.SYS_KLDLOAD)]
	_ = pin[uint(SYS_KLDUNLOAD-unix.SYS_KLDUNLOAD)]
	_ = pin[uint(SYS_KLDNEXT-unix.SYS_KLDNEXT)]
	_ = pin[uint(SYS_KLDSTAT-unix.SYS_KLDSTAT)]
	_ = pin[uint(SYS_KLDFIRSTMOD-unix.SYS_KLDFIRSTMOD)]

	// The interface ioctls, flags, types and link states.
	_ = pin[uint(IFNAMSIZ-unix.IFNAMSIZ)]
	_ = pin[uint(SIOCSIFFLAGS-unix.SIOCSIFFLAGS)]
	_ = pin[uint(SIOCGIFFLAGS-unix.SIOCGIFFLAGS)]
	_ = pin[uint(SIOCSIFNAME-unix.SIOCSIFNAME)]
	_ = pin[uint(SIOCSIFDESCR-unix.SIOCSIFDESCR)]
	_ = pin[uint(SIOCGIFDESCR-unix.SIOCGIFDESCR)]
	_ = pin[uint(SIOCIFDESTROY-unix.SIOCIFDESTROY)]
	_ = pin[uint(SIOCSDRVSPEC-unix.SIOCSDRVSPEC)]
	_ = pin[uint(SIOCGDRVSPEC-unix.SIOCGDRVSPEC)]
	_ = pin[uint(SIOCIFCREATE2-unix.SIOCIFCREATE2)]
	_ = pin[uint(IFF_UP-unix.IFF_UP)]
	_ = pin[uint(IFF_BROADCAST-unix.IFF_BROADCAST)]
	_ = pin[uint(IFF_LOOPBACK-unix.IFF_LOOPBACK)]
	_ = pin[uint(IFF_DRV_RUNNING-unix.IFF_DRV_RUNNING)]
	_ = pin[uint(IFF_PROMISC-unix.IFF_PROMISC)]
	_ = pin[uint(IFF_SIMPLEX-unix.IFF_SIMPLEX)]
	_ = pin[uint(IFF_MULTICAST-unix.IFF_MULTICAST)]
	_ = pin[uint(IFT_BRIDGE-unix.IFT_BRIDGE)]
	_ = pin[uint(AF_LOCAL-unix.AF_LOCAL)]
	_ = pin[uint(SOCK_DGRAM-unix.SOCK_DGRAM)]

	// The routing socket and sysctl, and their messages.
	_ = pin[uint(PF_ROUTE-unix.AF_ROUTE)]
	_ = pin[uint(SOCK_RAW-unix.SOCK_RAW)]
	_ = pin[uint(AF_LINK-unix.AF_LINK)]
	_ = pin[uint(NET_RT_DUMP-unix.NET_RT_DUMP)]
	_ = pin[uint(NET_RT_IFLISTL-unix.NET_RT_IFLISTL)]
	_ = pin[uint(RTM_VERSION-unix.RTM_VERSION)]
	_ = pin[uint(RTM_IFINFO-unix.RTM_IFINFO)]
	_ = pin[uint(RTM_IFANNOUNCE-unix.RTM_IFANNOUNCE)]
	_ = pin[uint(RTA_IFP-unix.RTA_IFP)]
	_ = pin[uint(IFAN_ARRIVAL-unix.IFAN_ARRIVAL)]
	_ = pin[uint(IFAN_DEPARTURE-unix.IFAN_DEPARTURE)]
	_ = pin[uint(AF_INET-unix.AF_INET)]
	_ = pin[uint(RTM_GET-unix.RTM_GET)]
	_ = pin[uint(RTA_DST-unix.RTA_DST)]
	_ = pin[uint(RTA_GATEWAY-unix.RTA_GATEWAY)]
	_ = pin[uint(RTA_NETMASK-unix.RTA_NETMASK)]
	_ = pin[uint(RTAX_DST-unix.RTAX_DST)]
	_ = pin[uint(RTAX_GATEWAY-unix.RTAX_GATEWAY)]
	_ = pin[uint(RTAX_NETMASK-unix.RTAX_NETMASK)]
	_ = pin[uint(RTAX_MAX-unix.RTAX_MAX)]
	_ = pin[uint(RTF_UP-unix.RTF_UP)]
	_ = pin[uint(RTF_GATEWAY-unix.RTF_GATEWAY)]
	_ = pin[uint(RTF_HOST-unix.RTF_HOST)]
	_ = pin[unsafe.Sizeof(RtMsghdr{})-unix.SizeofRtMsghdr]
	_ = pin[unsafe.Offsetof(RtMsghdr{}.Index)-unsafe.Offsetof(unix.RtMsghdr{}.Index)]
	_ = pin[unsafe.Offsetof(RtMsghdr{}.Flags)-unsafe.Offsetof(unix.RtMsghdr{}.Flags)]
	_ = pin[unsafe.Offsetof(RtMsghdr{}.Addrs)-unsafe.Offsetof(unix.RtMsghdr{}.Addrs)]
	_ = pin[unsafe.Offsetof(RtMsghdr{}.Rmx)-unsafe.Offsetof(unix.RtMsghdr{}.Rmx)]
	_ = pin[unsafe.Sizeof(RawSockaddrInet4{})-unix.SizeofSockaddrInet4]
	_ = pin[unsafe.Offsetof(RawSockaddrInet4{}.Addr)-unsafe.Offsetof(unix.RawSockaddrInet4{}.Addr)]
	_ = pin[unsafe.Sizeof(IfData{})-unix.SizeofIfData]
	_ = pin[unsafe.Offsetof(IfData{}.Link_state)-unsafe.Offsetof(unix.IfData{}.Link_state)]
	_ = pin[unsafe.Sizeof(IfMsghdr{})-unix.SizeofIfMsghdr]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Msglen)-unsafe.Offsetof(unix.IfMsghdr{}.Msglen)]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Version)-unsafe.Offsetof(unix.IfMsghdr{}.Version)]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Type)-unsafe.Offsetof(unix.IfMsghdr{}.Type)]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Addrs)-unsafe.Offsetof(unix.IfMsghdr{}.Addrs)]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Flags)-unsafe.Offsetof(unix.IfMsghdr{}.Flags)]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Index)-unsafe.Offsetof(unix.IfMsghdr{}.Index)]
	_ = pin[unsafe.Offsetof(IfMsghdr{}.Data)-unsafe.Offsetof(unix.IfMsghdr{}.Data)]
	_ = pin[unsafe.Sizeof(IfAnnounceMsghdr{})-unix.SizeofIfAnnounceMsghdr]
	_ = pin[unsafe.Offsetof(IfAnnounceMsghdr{}.Index)-unsafe.Offsetof(unix.IfAnnounceMsghdr{}.Index)]
	_ = pin[unsafe.Offsetof(IfAnnounceMsghdr{}.Name)-unsafe.Offsetof(unix.IfAnnounceMsghdr{}.Name)]
	_ = pin[unsafe.Offsetof(IfAnnounceMsghdr{}.What)-unsafe.Offsetof(unix.IfAnnounceMsghdr{}.What)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Len)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Len)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Family)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Family)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Type)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Type)]
	_ = pin[unsafe.Sizeof(RawSockaddrDatalink{})-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Data)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Nlen)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Nlen)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Alen)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Alen)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Slen)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Slen)]
	_ = pin[unsafe.Offsetof(RawSockaddrDatalink{}.Index)-unsafe.Offsetof(unix.RawSockaddrDatalink{}.Index)]

	// The wait for a process's exit.
	_ = pin[uint(EVFILT_PROC-unix.EVFILT_PROC)]
	_ = pin[uint(NOTE_EXIT-unix.NOTE_EXIT)]
	_ = pin[uint(EV_ADD-unix.EV_ADD)]
	_ = pin[uint(EV_ONESHOT-unix.EV_ONESHOT)]
	_ = pin[uint(EV_ERROR-unix.EV_ERROR)]

	// The terminal.
	_ = pin[uint(TIOCGETA-unix.TIOCGETA)]
	_ = pin[uint(TIOCSETA-unix.TIOCSETA)]
	_ = pin[uint(B115200-unix.B115200)]
	_ = pin[unsafe.Sizeof(Termios{})-unsafe.Sizeof(unix.Termios{})]
	_ = pin[unsafe.Offsetof(Termios{}.Cc)-unsafe.Offsetof(unix.Termios{}.Cc)]
	_ = pin[unsafe.Offsetof(Termios{}.Ispeed)-unsafe.Offsetof(unix.Termios{}.Ispeed)]
	_ = pin[unsafe.Offsetof(Termios{}.Ospeed)-unsafe.Offsetof(unix.Termios{}.Ospeed)]
	_ = pin[uint(NCCS-len(unix.Termios{}.Cc))]

	// The errno values (sys/sys/errno.h).
	_ = pin[uint(EPERM-Errno(unix.EPERM))]
	_ = pin[uint(ENOENT-Errno(unix.ENOENT))]
	_ = pin[uint(ESRCH-Errno(unix.ESRCH))]
	_ = pin[uint(EINTR-Errno(unix.EINTR))]
	_ = pin[uint(EIO-Errno(unix.EIO))]
	_ = pin[uint(ENXIO-Errno(unix.ENXIO))]
	_ = pin[uint(ENOEXEC-Errno(unix.ENOEXEC))]
	_ = pin[uint(EBADF-Errno(unix.EBADF))]
	_ = pin[uint(ENOMEM-Errno(unix.ENOMEM))]
	_ = pin[uint(EACCES-Errno(unix.EACCES))]
	_ = pin[uint(EFAULT-Errno(unix.EFAULT))]
	_ = pin[uint(EBUSY-Errno(unix.EBUSY))]
	_ = pin[uint(EEXIST-Errno(unix.EEXIST))]
	_ = pin[uint(ENODEV-Errno(unix.ENODEV))]
	_ = pin[uint(ENOTDIR-Errno(unix.ENOTDIR))]
	_ = pin[uint(EISDIR-Errno(unix.EISDIR))]
	_ = pin[uint(EINVAL-Errno(unix.EINVAL))]
	_ = pin[uint(ENOTTY-Errno(unix.ENOTTY))]
	_ = pin[uint(ENOSPC-Errno(unix.ENOSPC))]
	_ = pin[uint(ERANGE-Errno(unix.ERANGE))]
	_ = pin[uint(EAGAIN-Errno(unix.EAGAIN))]
	_ = pin[uint(EALREADY-Errno(unix.EALREADY))]
	_ = pin[uint(EPROTONOSUPPORT-Errno(unix.EPROTONOSUPPORT))]
	_ = pin[uint(EOPNOTSUPP-Errno(unix.EOPNOTSUPP))]
	_ = pin[uint(EAFNOSUPPORT-Errno(unix.EAFNOSUPPORT))]
	_ = pin[uint(ENAMETOOLONG-Errno(unix.ENAMETOOLONG))]
	_ = pin[uint(ENOMSG-Errno(unix.ENOMSG))]
	_ = pin[uint(ENOSYS-Errno(unix.ENOSYS))]
}
