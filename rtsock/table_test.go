package rtsock

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/abi"
)

// rtm builds an RTM_GET message with the given sockaddrs, each padded to
// a long as SA_SIZE does.
func rtm(index uint16, flags, addrs int32, sockaddrs ...[]byte) []byte {
	var body []byte
	for _, sa := range sockaddrs {
		size := (len(sa) + 7) &^ 7
		if len(sa) == 0 || sa[0] == 0 {
			size = 8
		}
		body = append(body, sa...)
		body = append(body, make([]byte, size-len(sa))...)
	}
	hdr := abi.RtMsghdr{Version: abi.RTM_VERSION, Type: abi.RTM_GET, Index: index, Flags: flags, Addrs: addrs}
	hdr.Msglen = uint16(int(unsafe.Sizeof(hdr)) + len(body))
	b, _ := binary.Append(nil, binary.NativeEndian, &hdr)
	return append(b, body...)
}

func sin(a string) []byte {
	b, _ := binary.Append(nil, binary.NativeEndian, &abi.RawSockaddrInet4{Len: 16, Family: abi.AF_INET, Addr: netip.MustParseAddr(a).As4()})
	return b
}

// TestParseRoutes: the routes of a dump, with the netmask's forms: full,
// of length 0 (a long of zeros: the default route), and cut short with
// no family; a gateway of another family is none; routes not up are
// left out; the default gateway is the first default route's out of the
// interface.
func TestParseRoutes(t *testing.T) {
	all := int32(abi.RTA_DST | abi.RTA_GATEWAY | abi.RTA_NETMASK)
	dump := append(rtm(3, abi.RTF_UP, all, sin("10.0.0.0"), []byte{8, abi.AF_LINK, 3, 0, 0, 0, 0, 0}, sin("255.255.255.0")),
		rtm(1, abi.RTF_UP|abi.RTF_GATEWAY, all, sin("0.0.0.0"), sin("192.168.1.1"), []byte{0})...)
	dump = append(dump, rtm(3, abi.RTF_UP|abi.RTF_HOST, abi.RTA_DST|abi.RTA_GATEWAY, sin("10.0.0.9"), sin("10.0.0.1"))...)
	dump = append(dump, rtm(3, 0, all, sin("0.0.0.0"), sin("10.0.0.7"), []byte{0})...) // not up
	dump = append(dump, rtm(3, abi.RTF_UP|abi.RTF_GATEWAY, all, sin("0.0.0.0"), sin("10.0.0.1"), []byte{5, 0, 0, 0, 0})...)
	msgs, err := Split(dump)
	if err != nil {
		t.Fatal(err)
	}
	var routes []Route
	for _, m := range msgs {
		r, up, err := parseRoute(m)
		if err != nil {
			t.Fatal(err)
		}
		if up {
			routes = append(routes, r)
		}
	}
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	want := []Route{
		{Dst: p("10.0.0.0/24"), Index: 3},
		{Dst: p("0.0.0.0/0"), Gateway: a("192.168.1.1"), Index: 1},
		{Dst: p("10.0.0.9/32"), Gateway: a("10.0.0.1"), Index: 3},
		{Dst: p("0.0.0.0/0"), Gateway: a("10.0.0.1"), Index: 3},
	}
	if diff := cmp.Diff(want, routes, cmp.Comparer(func(x, y netip.Prefix) bool { return x == y }), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if gw, ok := DefaultGateway(routes, 3); !ok || gw != a("10.0.0.1") {
		t.Errorf("DefaultGateway(3) = %v, %v; want 10.0.0.1", gw, ok)
	}
	if gw, ok := DefaultGateway(routes, 4); ok {
		t.Errorf("DefaultGateway of an interface without one = %v", gw)
	}
	if _, err := Split(dump[:len(dump)-1]); err == nil {
		t.Error("Split of a dump cut short: no error")
	}
}
