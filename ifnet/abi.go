package ifnet

import (
	"bytes"
	"unsafe"
)

// FreeBSD's numbers for the network interface ioctls and the routing
// sysctl (sys/sys/sockio.h, sys/net/if.h, sys/net/if_bridgevar.h,
// sys/net/if_types.h, sys/net/route.h, sys/sys/socket.h). They are the same
// on amd64 and arm64; abi_test.go pins each one to
// testdata/freebsd-abi.json. Everything in this file is plain Go: it fills
// and reads the kernel's structures and never calls the kernel.
const (
	ifNameSize = 16 // IFNAMSIZ, including the terminating NUL

	_SIOCSIFFLAGS  = 0x80206910 // _IOW('i', 16, struct ifreq)
	_SIOCGIFFLAGS  = 0xc0206911 // _IOWR('i', 17, struct ifreq)
	_SIOCSIFNAME   = 0x80206928 // _IOW('i', 40, struct ifreq)
	_SIOCIFDESTROY = 0x80206979 // _IOW('i', 121, struct ifreq)
	_SIOCSDRVSPEC  = 0x8028697b // _IOW('i', 123, struct ifdrv)
	_SIOCGDRVSPEC  = 0xc028697b // _IOWR('i', 123, struct ifdrv)
	_SIOCIFCREATE2 = 0xc020697c // _IOWR('i', 124, struct ifreq)

	_IFF_UP = 0x1

	// if_bridge commands, sent in ifdrv.ifd_cmd.
	_BRDGADD  = 0 // add a member (ifbreq), with SIOCSDRVSPEC
	_BRDGDEL  = 1 // delete a member (ifbreq), with SIOCSDRVSPEC
	_BRDGGIFS = 6 // list the members (ifbifconf), with SIOCGDRVSPEC

	_IFBIF_SPAN = 0x8 // ifbr_ifsflags of a span port (not a member)

	_IFT_ETHER  = 0x6  // Ethernet, and also what a tap is
	_IFT_LOOP   = 0x18 // loopback
	_IFT_BRIDGE = 0xd1 // if_bridge

	_NET_RT_IFLISTL = 5    // sysctl net.routetable.0.0.NET_RT_IFLISTL.0
	_RTM_IFINFO     = 0xe  // the message describing one interface
	_RTA_IFP        = 0x10 // the message carries the interface's sockaddr_dl
	_AF_LINK        = 18
)

// The shapes of struct ifreq (32 bytes) the calls use: the name and the
// flags, or the name and a pointer (ifr_data).
type ifreqFlags struct {
	Name      [ifNameSize]byte
	Flags     uint16 // ifr_flags: low 16 bits of the interface flags
	FlagsHigh uint16 // ifr_flagshigh: high 16 bits
	_         [12]byte
}

type ifreqData struct {
	Name [ifNameSize]byte
	Data unsafe.Pointer // ifr_data
	_    [8]byte
}

// ifdrv carries a driver-specific command (here if_bridge's BRDG*) to the
// interface named in Name.
type ifdrv struct {
	Name [ifNameSize]byte
	Cmd  uint64         // ifd_cmd (unsigned long)
	Len  uint64         // ifd_len (size_t): the size of *Data
	Data unsafe.Pointer // ifd_data
}

// ifbreq is if_bridge's request about one member (80 bytes).
type ifbreq struct {
	IfsName      [ifNameSize]byte
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

// ifbifconf is the buffer of ifbreq entries BRDGGIFS fills (16 bytes).
type ifbifconf struct {
	Len uint32 // ifbic_len: size of the buffer in bytes, in and out
	_   [4]byte
	Buf unsafe.Pointer // ifbic_buf
}

// ifMsghdrl is struct if_msghdrl, the header of each RTM_IFINFO message
// the NET_RT_IFLISTL sysctl returns, with its struct if_data. The
// interface's struct sockaddr_dl follows at offset Len (ifm_len).
type ifMsghdrl struct {
	MsgLen  uint16 // ifm_msglen: the whole message, addresses included
	Version uint8
	Type    uint8 // ifm_type: RTM_IFINFO
	Addrs   int32 // ifm_addrs: RTA_* bits of the addresses that follow
	Flags   int32 // ifm_flags: if_flags | if_drv_flags
	Index   uint16
	_       uint16
	Len     uint16 // ifm_len: the size of this header, if_data included
	DataOff uint16 // ifm_data_off: where ifm_data starts
	_       int32
	Data    ifData
}

// ifData is struct if_data; only its type is read.
type ifData struct {
	Type uint8 // ifi_type: IFT_*
	_    [7]byte
	_    [18]uint64
}

// sockaddrDl is the fixed part of struct sockaddr_dl; sdl_data follows it,
// and the interface's name is its first NLen bytes.
type sockaddrDl struct {
	Len    uint8 // sdl_len: the whole sockaddr
	Family uint8 // AF_LINK
	Index  uint16
	Type   uint8
	NLen   uint8
	ALen   uint8
	SLen   uint8
}

// setName copies an interface name into a NUL-terminated name field. A
// name that is empty, does not fit with its NUL, or holds a NUL itself is
// refused with EINVAL, what the kernel answers for such names.
func setName(dst *[ifNameSize]byte, name string) error {
	if name == "" || len(name) >= ifNameSize || bytes.IndexByte([]byte(name), 0) >= 0 {
		return errInvalidName
	}
	*dst = [ifNameSize]byte{}
	copy(dst[:], name)
	return nil
}
