//go:build !freebsd

package relay

import (
	"errors"
	"net/netip"
)

// DefaultGateway is FreeBSD's only: elsewhere (a simulated host) the caller
// gives the guest's address itself.
func DefaultGateway(ifname string) (netip.Addr, error) {
	return netip.Addr{}, errors.New("find the default gateway through " + ifname + ": only on FreeBSD; give the guest's address (network=IP:NETMASK)")
}
