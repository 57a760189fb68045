package launch

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wifibox/wifibox/bhyve"
	"github.com/wifibox/wifibox/host"
)

func TestTapNames(t *testing.T) {
	wifibox := bhyve.Args(bhyve.Spec{
		Program: "/usr/sbin/bhyve", CPUs: 1, Memory: "128M",
		Console: "/dev/nmdm-wifibox.1A", Firmware: "/fw.fd",
		ESPImage: "/esp.img", RootImage: "/root.img",
		Appliance: "/etc/appliance", RunAppliance: "/var/run/appliance",
		Tap:      "tap3",
		Passthru: []host.Selector{{Bus: 3}},
	})
	for _, tc := range []struct {
		name string
		argv []string
		want []string
	}{
		{"wifibox's", wifibox, []string{"tap3"}},
		{"virtio-net with options", []string{"bhyve", "-s", "2:0,virtio-net,tap1,mac=58:9c:fc:00:00:01", "vm"}, []string{"tap1"}},
		{"backend key", []string{"bhyve", "-s", "2,virtio-net,mac=58:9c:fc:00:00:01,backend=tap2", "vm"}, []string{"tap2"}},
		{"vmnet", []string{"bhyve", "-s", "2,e1000,vmnet0", "vm"}, []string{"vmnet0"}},
		{"two", []string{"bhyve", "-s", "2,e1000,tap0", "-s", "3,virtio-net,tap1", "vm"}, []string{"tap0", "tap1"}},
		{"joined", []string{"bhyve", "-s5:0,e1000,tap4", "vm"}, []string{"tap4"}},
		{"after flags", []string{"bhyve", "-AHPSs", "5:0,e1000,tap5", "vm"}, []string{"tap5"}},
		{"netgraph", []string{"bhyve", "-s", "2,virtio-net,netgraph,path=ng0:,peerhook=a", "vm"}, nil},
		{"not a network device", []string{"bhyve", "-s", "4:0,virtio-blk,/tap0.img", "vm"}, nil},
		{"no backend", []string{"bhyve", "-s", "2,e1000", "vm"}, nil},
		{"help", []string{"bhyve", "-s", "help"}, nil},
		{"argument of another option", []string{"bhyve", "-l", "-s", "-c", "1", "vm"}, nil},
		{"after the VM's name", []string{"bhyve", "-c", "1", "vm", "-s", "2,e1000,tap0"}, nil},
		{"after --", []string{"bhyve", "--", "-s", "2,e1000,tap0"}, nil},
		{"option without its argument", []string{"bhyve", "-s"}, nil},
	} {
		if diff := cmp.Diff(tc.want, tapNames(tc.argv)); diff != "" {
			t.Errorf("%s: tapNames(%q) (-want +got):\n%s", tc.name, tc.argv, diff)
		}
	}
}
