//go:build freebsd

package relay

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
)

// DefaultGateway gives the gateway of the IPv4 default route out of the
// named interface: the guest's address when the host routes through
// wifibox0 (what the shell implementation read from netstat -r). It reads
// the routing table with sysctl NET_RT_DUMP.
func DefaultGateway(ifname string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the default gateway through %s: %w", ifname, err)
	}
	rib, err := route.FetchRIB(unix.AF_INET, route.RIBTypeRoute, 0)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the default gateway through %s: read the routing table: %w", ifname, err)
	}
	msgs, err := route.ParseRIB(route.RIBTypeRoute, rib)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the default gateway through %s: parse the routing table: %w", ifname, err)
	}
	var routes []ipRoute
	for _, m := range msgs {
		if r, ok := m.(*route.RouteMessage); ok && r.Flags&unix.RTF_UP != 0 {
			routes = append(routes, ipRouteOf(r.Addrs, r.Index))
		}
	}
	return defaultGateway(routes, ifname, ifi.Index)
}

// ipRouteOf reads a route's destination, netmask and gateway, indexed by
// RTAX_*. A route without a netmask is a host route.
func ipRouteOf(addrs []route.Addr, index int) ipRoute {
	at := func(i int) netip.Addr {
		if i < len(addrs) {
			if a, ok := addrs[i].(*route.Inet4Addr); ok {
				return netip.AddrFrom4(a.IP)
			}
		}
		return netip.Addr{}
	}
	bits := 32
	if mask := at(unix.RTAX_NETMASK); mask.IsValid() {
		m := mask.As4()
		if ones, size := net.IPMask(m[:]).Size(); size != 0 {
			bits = ones
		}
	}
	r := ipRoute{Gateway: at(unix.RTAX_GATEWAY), Index: index}
	if dst := at(unix.RTAX_DST); dst.IsValid() {
		r.Dst = netip.PrefixFrom(dst, bits)
	}
	return r
}
