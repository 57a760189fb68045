package relay

import (
	"fmt"
	"net/netip"
)

// ipRoute is one IPv4 route of the routing table, what DefaultGateway
// needs of it.
type ipRoute struct {
	Dst     netip.Prefix // 0.0.0.0/0 for a default route
	Gateway netip.Addr   // the zero Addr for a route without an IPv4 gateway
	Index   int          // the outgoing interface's index
}

// defaultGateway picks the gateway of the first default route out of the
// interface with the given index.
func defaultGateway(routes []ipRoute, ifname string, index int) (netip.Addr, error) {
	for _, r := range routes {
		if r.Dst.Bits() == 0 && r.Dst.Addr().Is4() && r.Index == index && r.Gateway.IsValid() {
			return r.Gateway, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no default route through %s: set network=IP:NETMASK in uds_passthru.conf, or check that the host's DHCP client set one", ifname)
}
