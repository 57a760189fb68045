package rtsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/wifibox/wifibox/abi"
	"github.com/wifibox/wifibox/sys"
)

// Split splits a sysctl's answer of routing messages (NET_RT_IFLISTL,
// NET_RT_DUMP) into its messages, each of the length its first two bytes
// give, as the routing socket gives them one a read.
func Split(b []byte) ([][]byte, error) {
	var msgs [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("truncated routing message (%d bytes)", len(b))
		}
		size := int(binary.NativeEndian.Uint16(b))
		if size < 4 || size > len(b) {
			return nil, fmt.Errorf("routing message length %d with %d bytes left", size, len(b))
		}
		msgs = append(msgs, b[:size])
		b = b[size:]
	}
	return msgs, nil
}

// Route is an IPv4 route of the routing table.
type Route struct {
	Dst     netip.Prefix // 0.0.0.0/0 for a default route
	Gateway netip.Addr   // the zero Addr for a route without an IPv4 gateway
	Index   int          // the outgoing interface's index
}

// Routes reads the IPv4 routes that are up from the routing table (sysctl
// net.routetable.0.AF_INET.NET_RT_DUMP.0, the default fib).
func Routes(s sys.Sys) ([]Route, error) {
	b, err := s.Sysctl("net.routetable", 0, abi.AF_INET, abi.NET_RT_DUMP, 0)
	if err != nil {
		return nil, fmt.Errorf("read the routing table: sysctl net.routetable NET_RT_DUMP: %w", err)
	}
	msgs, err := Split(b)
	if err != nil {
		return nil, fmt.Errorf("read the routing table: %w", err)
	}
	var routes []Route
	for _, msg := range msgs {
		if msg[3] != abi.RTM_GET {
			continue
		}
		r, up, err := parseRoute(msg)
		if err != nil {
			return nil, fmt.Errorf("read the routing table: %w", err)
		}
		if up {
			routes = append(routes, r)
		}
	}
	return routes, nil
}

// parseRoute reads an RTM_GET message: its rt_msghdr, then the sockaddrs
// rtm_addrs names in RTAX_* order, each taking SA_SIZE bytes (its length
// rounded up to a long; a long for length 0). A route without a netmask
// is a host route; a destination or gateway of another family is no IPv4
// address.
func parseRoute(msg []byte) (r Route, up bool, err error) {
	var hdr abi.RtMsghdr
	n, err := binary.Decode(msg, binary.NativeEndian, &hdr)
	if err != nil || int(hdr.Msglen) != len(msg) || hdr.Version != abi.RTM_VERSION {
		return Route{}, false, fmt.Errorf("RTM_GET message of version %d, length %d in %d bytes: %v", hdr.Version, hdr.Msglen, len(msg), err)
	}
	var addrs [abi.RTAX_MAX]netip.Addr
	var present [abi.RTAX_MAX]bool
	rest := msg[n:]
	for i := range abi.RTAX_MAX {
		if hdr.Addrs&(1<<i) == 0 {
			continue
		}
		if len(rest) == 0 {
			return Route{}, false, errors.New("RTM_GET message: its sockaddrs are cut short")
		}
		size := (int(rest[0]) + 7) &^ 7
		if rest[0] == 0 {
			size = 8
		}
		if size > len(rest) {
			return Route{}, false, fmt.Errorf("RTM_GET message: a sockaddr of %d bytes in %d", rest[0], len(rest))
		}
		present[i] = true
		sa := rest[:max(int(rest[0]), 2)]
		switch {
		case i == abi.RTAX_NETMASK:
			// A netmask may come short, and of no family (rt_maskedcopy
			// of old): its bytes past sin_port, zero where cut off.
			var m [4]byte
			if len(sa) > 4 {
				copy(m[:], sa[4:])
			}
			addrs[i] = netip.AddrFrom4(m)
		case sa[1] == abi.AF_INET && len(sa) >= int(unsafe.Sizeof(abi.RawSockaddrInet4{})):
			var sin abi.RawSockaddrInet4
			binary.Decode(sa, binary.NativeEndian, &sin)
			addrs[i] = netip.AddrFrom4(sin.Addr)
		}
		rest = rest[size:]
	}
	bits := 32
	if mask := addrs[abi.RTAX_NETMASK]; present[abi.RTAX_NETMASK] && mask.IsValid() {
		m := mask.As4()
		bits = 0
		for _, b := range m {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
	}
	r = Route{Gateway: addrs[abi.RTAX_GATEWAY], Index: int(hdr.Index)}
	if dst := addrs[abi.RTAX_DST]; dst.IsValid() {
		r.Dst = netip.PrefixFrom(dst, bits)
	}
	return r, hdr.Flags&abi.RTF_UP != 0, nil
}

// DefaultGateway picks the gateway of the first IPv4 default route out of
// the interface with the given index, and whether there is one.
func DefaultGateway(routes []Route, index int) (netip.Addr, bool) {
	for _, r := range routes {
		if r.Dst.IsValid() && r.Dst.Bits() == 0 && r.Dst.Addr().Is4() && r.Index == index && r.Gateway.IsValid() {
			return r.Gateway, true
		}
	}
	return netip.Addr{}, false
}
