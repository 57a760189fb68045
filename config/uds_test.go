package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// udsSample is uds_passthru.conf as the sample writes it.
const udsSample = `# Unix domain sockets relayed to the guest
network=10.0.0.1:255.255.255.0
_sockdir=/var/run/wpa_supplicant
_perms="user=root,group=0,mode=770"
sockets="path=${_sockdir}/wlan0,${_perms},port=1200
  port=1201,mode=0660,group=wheel,path=${_sockdir}/p2p-dev-wlan0,user=1001"
`

func TestUDSPassthruValues(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     UDSPassthru
	}{
		{"defaults", "", UDSPassthru{MaxSessions: 16}},
		{"sample", udsSample, UDSPassthru{
			GuestIP:     netip.MustParseAddr("10.0.0.1"),
			Netmask:     netip.MustParseAddr("255.255.255.0"),
			MaxSessions: 16,
			Sockets: []Socket{
				{Path: "/var/run/wpa_supplicant/wlan0", User: "root", Group: "0", Mode: 0o770, Port: 1200},
				{Path: "/var/run/wpa_supplicant/p2p-dev-wlan0", User: "1001", Group: "wheel", Mode: 0o660, Port: 1201},
			},
		}},
		{"empty network, no netmask", "network=\nsockets='path=/a,user=u,group=g,mode=0,port=65535 path=/b,user=u,group=g,mode=777,port=1'\nmax_sessions=1024",
			UDSPassthru{MaxSessions: 1024, Sockets: []Socket{
				{Path: "/a", User: "u", Group: "g", Mode: 0, Port: 65535},
				{Path: "/b", User: "u", Group: "g", Mode: 0o777, Port: 1},
			}}},
		{"address without netmask", "network=192.168.0.2", UDSPassthru{GuestIP: netip.MustParseAddr("192.168.0.2"), MaxSessions: 16}},
	} {
		got, warnings, err := newUDSPassthru("uds_passthru.conf", mustParse(t, "uds_passthru.conf", c.in))
		if err != nil || len(warnings) != 0 {
			t.Errorf("%s: %v, warnings %q", c.name, err, warnings)
			continue
		}
		if diff := cmp.Diff(c.want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreFields(UDSPassthru{}, "SocketsAt")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestUDSPassthruErrors(t *testing.T) {
	const network = `, expected: IPv4 address and netmask, e.g. 10.0.0.1:255.255.255.0`
	const ok = "path=/a,user=u,group=g,mode=770,port=1"
	const unclean = `path should be clean, with no "." or ".." component, no "//" and no trailing "/": `
	for _, c := range []struct{ in, want string }{
		{"network=10.0.0", `uds_passthru.conf:1:9: malformed network value: "10.0.0"` + network},
		{"network=::1", `uds_passthru.conf:1:9: malformed network value: "::1"` + network},
		{"network=10.0.0.1:", `uds_passthru.conf:1:9: malformed network value: "10.0.0.1:"` + network},
		{"network=10.0.0.1:255.0.255.0", `uds_passthru.conf:1:9: malformed network value: "10.0.0.1:255.0.255.0"` + network},
		{"network=10.0.0.1/24", `uds_passthru.conf:1:9: malformed network value: "10.0.0.1/24"` + network},
		{"sockets=path=/a", `uds_passthru.conf:1:9: sockets entry "path=/a": user is missing`},
		{"sockets='" + ok + " path=/a'", `uds_passthru.conf:1:9: sockets entry "path=/a": user is missing`},
		{"\nsockets=" + ok + ",port=2", `uds_passthru.conf:2:9: sockets entry "` + ok + `,port=2": port is given twice`},
		{"sockets=" + ok + ",host=x", `uds_passthru.conf:1:9: sockets entry "` + ok + `,host=x": unknown key "host", expected: path, user, group, mode, port`},
		{"sockets=" + ok + ",", `uds_passthru.conf:1:9: sockets entry "` + ok + `,": "" is not key=value`},
		{"sockets=path=,user=u", `uds_passthru.conf:1:9: sockets entry "path=,user=u": path is empty`},
		{"sockets=path=a,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=a,user=u,group=g,mode=770,port=1": path should be absolute: a`},
		{"sockets=path=/a,user=u,group=g,mode=778,port=1", `uds_passthru.conf:1:9: sockets entry "path=/a,user=u,group=g,mode=778,port=1": mode should be octal permissions such as 770 or 0660: 778`},
		{"sockets=path=/a,user=u,group=g,mode=1777,port=1", `uds_passthru.conf:1:9: sockets entry "path=/a,user=u,group=g,mode=1777,port=1": mode should be octal permissions such as 770 or 0660: 1777`},
		{"sockets=path=/a,user=u,group=g,mode=+7,port=1", `uds_passthru.conf:1:9: sockets entry "path=/a,user=u,group=g,mode=+7,port=1": mode should be octal permissions such as 770 or 0660: +7`},
		{"sockets=path=/a,user=u,group=g,mode=770,port=0", `uds_passthru.conf:1:9: sockets entry "path=/a,user=u,group=g,mode=770,port=0": port should be in between 1 and 65535: 0`},
		{"sockets=path=/a,user=u,group=g,mode=770,port=65536", `uds_passthru.conf:1:9: sockets entry "path=/a,user=u,group=g,mode=770,port=65536": port should be in between 1 and 65535: 65536`},
		{"sockets=path=/a,user=u,group=g,mode=770,port=+1", `uds_passthru.conf:1:9: sockets entry "path=/a,user=u,group=g,mode=770,port=+1": port should be in between 1 and 65535: +1`},
		{"sockets='" + ok + "\n" + ok + "'", `uds_passthru.conf:1:9: sockets entry "` + ok + `": path /a is listed twice`},
		{"sockets=path=/../../../../tmp/x,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=/../../../../tmp/x,user=u,group=g,mode=770,port=1": ` + unclean + `/../../../../tmp/x`},
		{"sockets=path=/var/run/../x,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=/var/run/../x,user=u,group=g,mode=770,port=1": ` + unclean + `/var/run/../x`},
		{"sockets=path=/var//x,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=/var//x,user=u,group=g,mode=770,port=1": ` + unclean + `/var//x`},
		{"sockets=path=/var/./x,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=/var/./x,user=u,group=g,mode=770,port=1": ` + unclean + `/var/./x`},
		{"sockets=path=/var/x/,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=/var/x/,user=u,group=g,mode=770,port=1": ` + unclean + `/var/x/`},
		{"sockets=path=/,user=u,group=g,mode=770,port=1", `uds_passthru.conf:1:9: sockets entry "path=/,user=u,group=g,mode=770,port=1": path should name a socket, not /`},
		{"max_sessions=0", `uds_passthru.conf:1:14: max_sessions should be in between 1 and 1024: 0`},
		{"max_sessions=1025", `uds_passthru.conf:1:14: max_sessions should be in between 1 and 1024: 1025`},
		{"max_sessions=many", `uds_passthru.conf:1:14: malformed max_sessions value: "many", expected: non-negative integer`},
	} {
		_, _, err := newUDSPassthru("uds_passthru.conf", mustParse(t, "uds_passthru.conf", c.in))
		checkInvalid(t, c.in, err, c.want)
	}
}

func TestUDSPassthruWarnings(t *testing.T) {
	_, warnings, err := newUDSPassthru("uds_passthru.conf", mustParse(t, "uds_passthru.conf", udsSample+"socket=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"uds_passthru.conf:7: unknown setting socket, ignored"}, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
