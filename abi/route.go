package abi

// The routing socket and the routing sysctl (sys/net/route.h, sys/net/if.h,
// sys/sys/socket.h, sys/net/if_dl.h): the messages rt_ifmsg and
// rt_ifannouncemsg broadcast (sys/net/rtsock.c) and the RTM_IFINFO
// messages sysctl_iflist returns. The same on amd64 and arm64;
// x/sys (xsys_freebsd.go)
// or testdata/freebsd-abi.json pins each one.
const (
	PF_ROUTE = 17 // AF_ROUTE
	SOCK_RAW = 3
	AF_LINK  = 18

	NET_RT_DUMP    = 1 // sysctl net.routetable.0.AF.NET_RT_DUMP.0[.fib]
	NET_RT_IFLISTL = 5 // sysctl net.routetable.0.0.NET_RT_IFLISTL.0

	RTM_VERSION    = 5
	RTM_IFINFO     = 0xe  // an interface changed: struct if_msghdr
	RTM_IFANNOUNCE = 0x11 // an interface arrived or left: if_announcemsghdr

	RTA_IFP = 0x10 // the message carries the interface's sockaddr_dl

	IFAN_ARRIVAL   = 0
	IFAN_DEPARTURE = 1
)

// IfData is struct if_data (152 bytes).
type IfData struct {
	Type       uint8 // ifi_type: IFT_*
	Physical   uint8
	Addrlen    uint8
	Hdrlen     uint8
	Link_state uint8 // ifi_link_state: LINK_STATE_*
	Vhid       uint8
	Datalen    uint16     // ifi_datalen: sizeof(struct if_data)
	Mtu        uint32     // ifi_mtu
	Metric     uint32     // ifi_metric
	_          [17]uint64 // ifi_baudrate to ifi_lastchange
}

// IfMsghdr is struct if_msghdr, what rt_ifmsg sends on the routing sockets
// when an interface's flags or link state change.
type IfMsghdr struct {
	Msglen  uint16 // ifm_msglen: the whole message
	Version uint8  // ifm_version: RTM_VERSION
	Type    uint8  // ifm_type: RTM_IFINFO
	Addrs   int32  // ifm_addrs: RTA_* bits of the addresses that follow
	Flags   int32  // ifm_flags: if_flags | if_drv_flags
	Index   uint16 // ifm_index
	_       uint16
	Data    IfData
}

// IfMsghdrl is struct if_msghdrl, the header of each RTM_IFINFO message
// the NET_RT_IFLISTL sysctl returns; the interface's sockaddr_dl follows
// at Len (ifm_len).
type IfMsghdrl struct {
	Msglen  uint16
	Version uint8
	Type    uint8
	Addrs   int32
	Flags   int32
	Index   uint16
	_       uint16
	Len     uint16 // ifm_len: this header's size, if_data included
	DataOff uint16 // ifm_data_off: where ifm_data starts
	_       int32
	Data    IfData
}

// IfAnnounceMsghdr is struct if_announcemsghdr (24 bytes), what
// rt_ifannouncemsg sends when an interface arrives or leaves.
type IfAnnounceMsghdr struct {
	Msglen  uint16 // ifan_msglen
	Version uint8  // ifan_version
	Type    uint8  // ifan_type: RTM_IFANNOUNCE
	Index   uint16 // ifan_index
	Name    [IFNAMSIZ]byte
	What    uint16 // ifan_what: IFAN_ARRIVAL or IFAN_DEPARTURE
}

// RawSockaddrDatalink is the fixed part of struct sockaddr_dl; sdl_data follows it,
// the interface's name in its first Nlen bytes.
type RawSockaddrDatalink struct {
	Len    uint8 // sdl_len: the whole sockaddr
	Family uint8 // AF_LINK
	Index  uint16
	Type   uint8
	Nlen   uint8
	Alen   uint8
	Slen   uint8
}

// The routing table's dump (sysctl net.routetable.0.AF_INET.NET_RT_DUMP.0,
// sysctl_dumpentry in sys/net/rtsock.c): an RTM_GET message, struct
// rt_msghdr, per route, followed by the sockaddrs rtm_addrs names, in
// RTAX_* order, each rounded up to a long (SA_SIZE; one of length 0 takes
// a long).
const (
	AF_INET = 2
	RTM_GET = 0x4

	RTA_DST     = 0x1
	RTA_GATEWAY = 0x2
	RTA_NETMASK = 0x4

	RTAX_DST     = 0
	RTAX_GATEWAY = 1
	RTAX_NETMASK = 2
	RTAX_MAX     = 8

	RTF_UP      = 0x1
	RTF_GATEWAY = 0x2 // the route goes through the gateway sockaddr
	RTF_HOST    = 0x4 // a host route: no netmask
)

// RtMsghdr is struct rt_msghdr (152 bytes).
type RtMsghdr struct {
	Msglen  uint16 // rtm_msglen
	Version uint8  // rtm_version: RTM_VERSION
	Type    uint8  // rtm_type: RTM_GET in a dump
	Index   uint16 // rtm_index: the outgoing interface
	_       uint16
	Flags   int32 // rtm_flags: RTF_*
	Addrs   int32 // rtm_addrs: RTA_* bits of the sockaddrs that follow
	Pid     int32
	Seq     int32
	Errno   int32
	Fmask   int32
	Inits   uint64
	Rmx     [14]uint64 // struct rt_metrics
}

// RawSockaddrInet4 is struct sockaddr_in (16 bytes).
type RawSockaddrInet4 struct {
	Len    uint8
	Family uint8 // AF_INET
	Port   uint16
	Addr   [4]byte
	Zero   [8]uint8
}
