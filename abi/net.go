package abi

import "unsafe"

// Network interfaces: the interface ioctls on a datagram socket
// (sys/sys/sockio.h, sys/net/if.h), if_bridge's commands
// (sys/net/if_bridgevar.h) and interface types (sys/net/if_types.h). The
// same on amd64 and arm64; x/sys (xsys_freebsd.go)
// or testdata/freebsd-abi.json pins each one.
const (
	IFNAMSIZ = 16 // an interface name with its NUL

	SIOCSIFFLAGS  = 0x80206910 // _IOW('i', 16, struct ifreq)
	SIOCGIFFLAGS  = 0xc0206911 // _IOWR('i', 17, struct ifreq)
	SIOCSIFNAME   = 0x80206928 // _IOW('i', 40, struct ifreq)
	SIOCSIFDESCR  = 0x80206929 // _IOW('i', 41, struct ifreq)
	SIOCGIFDESCR  = 0xc020692a // _IOWR('i', 42, struct ifreq)
	SIOCIFDESTROY = 0x80206979 // _IOW('i', 121, struct ifreq)
	SIOCSDRVSPEC  = 0x8028697b // _IOW('i', 123, struct ifdrv)
	SIOCGDRVSPEC  = 0xc028697b // _IOWR('i', 123, struct ifdrv)
	SIOCIFCREATE2 = 0xc020697c // _IOWR('i', 124, struct ifreq)

	IFF_UP          = 0x1
	IFF_BROADCAST   = 0x2
	IFF_LOOPBACK    = 0x8
	IFF_DRV_RUNNING = 0x40 // in if_drv_flags
	IFF_PROMISC     = 0x100
	IFF_SIMPLEX     = 0x800
	IFF_MULTICAST   = 0x8000

	// if_bridge commands, in ifdrv.ifd_cmd.
	BRDGADD  = 0 // add a member (ifbreq), with SIOCSDRVSPEC
	BRDGDEL  = 1 // delete a member (ifbreq), with SIOCSDRVSPEC
	BRDGGIFS = 6 // list the members (ifbifconf), with SIOCGDRVSPEC

	IFBIF_LEARNING = 0x1 // ifbr_ifsflags of a new member
	IFBIF_DISCOVER = 0x2
	IFBIF_SPAN     = 0x8 // a span port, not a member

	IFT_ETHER  = 0x6  // Ethernet, and also what a tap is
	IFT_LOOP   = 0x18 // loopback
	IFT_BRIDGE = 0xd1 // if_bridge

	LINK_STATE_UNKNOWN = 0
	LINK_STATE_DOWN    = 1
	LINK_STATE_UP      = 2

	// IFDESCRSIZE is the default of net.ifdescr_maxlen (sys/net/if.c:
	// ifdescr_maxlen = 1024), the longest description with its NUL.
	IFDESCRSIZE = 1024

	AF_LOCAL   = 1
	SOCK_DGRAM = 2
)

// Ifreq is struct ifreq (32 bytes): the name, then a union (ifr_ifru) that
// each request reads as one of the shapes below.
type Ifreq struct {
	Name [IFNAMSIZ]byte // ifr_name
	Ifru [16]byte       // ifr_ifru
}

// IfreqFlags is struct ifreq with ifr_flags and ifr_flagshigh, the low and
// high 16 bits of the interface flags.
type IfreqFlags struct {
	Name      [IFNAMSIZ]byte
	Flags     uint16 // ifr_flags
	FlagsHigh uint16 // ifr_flagshigh
	_         [12]byte
}

// IfreqData is struct ifreq with ifr_data, a pointer.
type IfreqData struct {
	Name [IFNAMSIZ]byte
	Data unsafe.Pointer // ifr_data
	_    [8]byte
}

// IfreqBuffer is struct ifreq with ifr_buffer, a length and a pointer
// (SIOCSIFDESCR, SIOCGIFDESCR).
type IfreqBuffer struct {
	Name   [IFNAMSIZ]byte
	Length uint64         // ifr_buffer.length (size_t), the NUL included
	Buffer unsafe.Pointer // ifr_buffer.buffer
}

// Ifdrv is struct ifdrv: a driver-specific command (if_bridge's BRDG*) to
// the interface named in Name.
type Ifdrv struct {
	Name [IFNAMSIZ]byte
	Cmd  uint64         // ifd_cmd (unsigned long)
	Len  uint64         // ifd_len (size_t): the size of *Data
	Data unsafe.Pointer // ifd_data
}

// Ifbreq is if_bridge's struct ifbreq about one member (80 bytes).
type Ifbreq struct {
	IfsName      [IFNAMSIZ]byte
	IfsFlags     uint32
	StpFlags     uint32
	PathCost     uint32
	PortNo       uint8
	Priority     uint8
	Proto        uint8
	Role         uint8
	State        uint8
	_            [3]byte
	AddrCnt      uint32
	AddrMax      uint32
	AddrExceeded uint32
	Pad          [32]byte
}

// Ifbifconf is struct ifbifconf, the buffer of Ifbreq entries BRDGGIFS
// fills (16 bytes).
type Ifbifconf struct {
	Len uint32 // ifbic_len: size of the buffer in bytes, in and out
	_   [4]byte
	Buf unsafe.Pointer // ifbic_buf
}
