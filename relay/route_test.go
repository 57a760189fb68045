package relay

import (
	"net/netip"
	"testing"
)

func TestDefaultGateway(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	routes := []ipRoute{
		{Dst: p("10.0.0.0/24"), Index: 3},                          // the bridge's own network
		{Dst: p("0.0.0.0/0"), Gateway: a("192.168.1.1"), Index: 1}, // em0's default route
		{Dst: p("0.0.0.0/32"), Gateway: a("10.0.0.9"), Index: 3},   // a host route, not a default
		{Dst: p("0.0.0.0/0"), Index: 3},                            // no gateway
		{Dst: p("0.0.0.0/0"), Gateway: a("10.0.0.1"), Index: 3},
	}
	got, err := defaultGateway(routes, "wifibox0", 3)
	if err != nil || got != a("10.0.0.1") {
		t.Errorf("defaultGateway = %v, %v; want 10.0.0.1", got, err)
	}
	if got, err := defaultGateway(routes, "tap0", 4); err == nil {
		t.Errorf("defaultGateway of an interface without one = %v, want an error", got)
	}
}
