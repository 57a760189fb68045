package launch

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// FreeBSD's numbers for the routing messages read here (sys/net/route.h,
// sys/net/if.h), the same on amd64 and arm64; abi_test.go pins each one
// to testdata/freebsd-abi.json. Everything in this file is plain Go.
const (
	_RTM_VERSION   = 5   // rtm_version / ifm_version of every message
	_RTM_IFINFO    = 0xe // an interface changed: struct if_msghdr
	_LINK_STATE_UP = 2   // ifi_link_state of a link that is up
)

// ifMsghdr is struct if_msghdr, what rt_ifmsg (sys/net/rtsock.c) sends on
// the routing sockets when an interface's flags or link state change,
// with no addresses after it.
type ifMsghdr struct {
	MsgLen  uint16 // ifm_msglen: the whole message
	Version uint8  // ifm_version: RTM_VERSION
	Type    uint8  // ifm_type: RTM_IFINFO
	Addrs   int32  // ifm_addrs
	Flags   int32  // ifm_flags: if_flags | if_drv_flags
	Index   uint16 // ifm_index: the interface's index
	_       uint16
	Data    ifData
}

// ifData is struct if_data (152 bytes); its link state is read.
type ifData struct {
	Type      uint8 // ifi_type
	Physical  uint8
	AddrLen   uint8
	HdrLen    uint8
	LinkState uint8 // ifi_link_state: LINK_STATE_*
	Vhid      uint8
	DataLen   uint16
	_         [18]uint64 // ifi_mtu to ifi_lastchange
}

// linkUp reads one routing message. For an RTM_IFINFO message it gives
// the interface's index and whether its link is up; other messages give
// up false. An RTM_IFINFO message of another layout than the one pinned
// is an error, so a changed ABI fails loudly.
func linkUp(msg []byte) (index uint16, up bool, err error) {
	if len(msg) < 4 {
		return 0, false, fmt.Errorf("truncated routing message (%d bytes)", len(msg))
	}
	if msg[3] != _RTM_IFINFO {
		return 0, false, nil
	}
	var m ifMsghdr
	if _, err := binary.Decode(msg, binary.NativeEndian, &m); err != nil {
		return 0, false, fmt.Errorf("RTM_IFINFO message of %d bytes, struct if_msghdr has %d: %w", len(msg), unsafe.Sizeof(m), err)
	}
	if m.Version != _RTM_VERSION || int(m.MsgLen) != len(msg) {
		return 0, false, fmt.Errorf("RTM_IFINFO message of version %d, length %d in %d bytes (want version %d, the bytes read)", m.Version, m.MsgLen, len(msg), _RTM_VERSION)
	}
	return m.Index, m.Data.LinkState == _LINK_STATE_UP, nil
}
